"""Record and read alerts. One table for every kind of source, so cases read them alike."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lykta.errors import InvalidInput
from lykta.store.models import Alert

SOURCE_KINDS = ("stream", "video", "photo")


@dataclass(frozen=True)
class NewAlert:
    """A match to record: what was watched, where in it, and which bank content matched."""

    source_kind: str
    source_id: str
    source_uri: str
    offset_s: float | None
    bank: str
    content_id: int
    external_id: str | None
    labels: tuple[str, ...]
    kind: str
    distance: int
    transform: str
    subject: str | None = None
    viewers: tuple[str, ...] = ()


@dataclass(frozen=True)
class AlertInfo(NewAlert):
    id: int = 0
    created_at: datetime | None = None


def alert_info(row: Alert) -> AlertInfo:
    """A stored alert row as an ``AlertInfo``."""
    created = row.created_at
    return AlertInfo(
        source_kind=row.source_kind, source_id=row.source_id, source_uri=row.source_uri,
        offset_s=row.offset_s, bank=row.bank, content_id=row.content_id,
        external_id=row.external_id, labels=tuple(json.loads(row.labels_json)),
        kind=row.kind, distance=row.distance, transform=row.transform, subject=row.subject,
        viewers=tuple(json.loads(row.viewers_json)), id=row.id,
        created_at=created if created is None or created.tzinfo else created.replace(tzinfo=UTC),
    )  # fmt: skip


class AlertRepository:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def record(self, alert: NewAlert) -> AlertInfo:
        """Write one alert in its own transaction and return it with its id."""
        if alert.source_kind not in SOURCE_KINDS:
            raise InvalidInput(f"alert source kind must be one of {', '.join(SOURCE_KINDS)}")
        row = Alert(
            source_kind=alert.source_kind, source_id=alert.source_id,
            source_uri=alert.source_uri, offset_s=alert.offset_s, bank=alert.bank,
            content_id=alert.content_id, external_id=alert.external_id,
            labels_json=json.dumps(list(alert.labels)), kind=alert.kind,
            distance=alert.distance, transform=alert.transform, subject=alert.subject,
            viewers_json=json.dumps(list(alert.viewers)), created_at=datetime.now(UTC),
        )  # fmt: skip
        with self._sessions() as session, session.begin():
            session.add(row)
            session.flush()
            return alert_info(row)

    def list(
        self, *, source_kind: str | None = None, source_id: str | None = None, limit: int = 100
    ) -> list[AlertInfo]:
        """The newest alerts first, of one source when named."""
        query = select(Alert).order_by(Alert.id.desc()).limit(limit)
        if source_kind is not None:
            query = query.where(Alert.source_kind == source_kind)
        if source_id is not None:
            query = query.where(Alert.source_id == source_id)
        with self._sessions() as session:
            return [alert_info(row) for row in session.scalars(query)]
