"""A worker's streams run on this process's stream supervisor, as `lykta watch` runs them.

Specs travel through NATS as JSON; alerts are written once across a takeover: the worker
that takes a stream over starts watching it afresh, and a match the dead worker had
already recorded within the stream's episode gap is the same alert, not a new one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import asdict, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lykta.alerts import AlertRepository, NewAlert
from lykta.alerts.repository import AlertInfo, alert_info
from lykta.errors import NotFound
from lykta.store.models import Alert
from lykta.streams import StreamSpec, StreamSupervisor
from lykta.streams.base import DEFAULT_EPISODE_GAP

_TUPLES = {"banks", "viewers"}


def spec_to_json(spec: StreamSpec) -> dict[str, Any]:
    """A spec as the JSON object stored in the board (its id filled in)."""
    out = asdict(spec)
    out["id"] = spec.stream_id
    for name in _TUPLES:
        if out[name] is not None:
            out[name] = list(out[name])
    return out


def spec_from_json(data: Mapping[str, Any]) -> StreamSpec:
    """The spec a board entry describes; fields this version does not know are ignored."""
    known = {field.name for field in fields(StreamSpec)}
    values = {key: value for key, value in data.items() if key in known}
    for name in _TUPLES:
        if values.get(name) is not None:
            values[name] = tuple(values[name])
    return StreamSpec(**values)


class AlertsOnce(AlertRepository):
    """Alerts as the repository writes them, except that a match of the same bank item in
    the same stream within ``window`` seconds of an alert already written returns that
    alert: a worker that took a stream over sees again what its predecessor just saw."""

    def __init__(
        self, sessions: sessionmaker[Session], window: float = DEFAULT_EPISODE_GAP
    ) -> None:
        super().__init__(sessions)
        self._sessions_for_check = sessions
        self.window = window

    def record(self, alert: NewAlert) -> AlertInfo:
        since = datetime.now(UTC) - timedelta(seconds=self.window)
        with self._sessions_for_check() as session:
            existing = session.scalars(
                select(Alert)
                .where(
                    Alert.source_kind == alert.source_kind,
                    Alert.source_id == alert.source_id,
                    Alert.content_id == alert.content_id,
                    Alert.created_at >= since,
                )
                .order_by(Alert.id.desc())
                .limit(1)
            ).first()
            if existing is not None:
                return alert_info(existing)
        return super().record(alert)


class SupervisorRunner:
    """The worker's `StreamRunner` over a stream supervisor."""

    def __init__(self, supervisor: StreamSupervisor) -> None:
        self.supervisor = supervisor

    def start(self, spec: Mapping[str, Any]) -> None:
        self.supervisor.add(spec_from_json(spec))

    def stop(self, stream_id: str) -> None:
        # NotFound: it never started (a bad spec) or was stopped already.
        with contextlib.suppress(NotFound):
            self.supervisor.remove(stream_id)

    def status(self, stream_id: str) -> Mapping[str, Any] | None:
        try:
            status = self.supervisor.get(stream_id)
        except NotFound:
            return None
        out = asdict(status)
        out["state"] = status.state.value
        for moment in ("started_at", "last_frame_at"):
            if out[moment] is not None:
                out[moment] = out[moment].isoformat()
        return out
