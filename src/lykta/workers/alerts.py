"""Alerts written once across a takeover: the worker that takes a stream over starts
watching it afresh, and a match the dead worker had already recorded within the stream's
episode gap is the same alert, not a new one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lykta.alerts import AlertListener, AlertRepository, NewAlert
from lykta.alerts.repository import AlertInfo, alert_info
from lykta.store.models import Alert
from lykta.streams.base import DEFAULT_EPISODE_GAP


class AlertsOnce(AlertRepository):
    """Alerts as the repository writes them, except that a match of the same bank item in
    the same stream within ``window`` seconds of an alert already written returns that
    alert: a worker that took a stream over sees again what its predecessor just saw."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        window: float = DEFAULT_EPISODE_GAP,
        *,
        listeners: Sequence[AlertListener] = (),
    ) -> None:
        super().__init__(sessions, listeners=listeners)
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
