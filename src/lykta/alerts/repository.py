"""Record and read alerts. One table for every kind of source, so cases read them alike."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lykta.errors import InvalidInput, NotFound
from lykta.matching import LookupResult
from lykta.store.models import Alert

SOURCE_KINDS = ("stream", "video", "photo")
MAX_TEXT = 512

# Told of each alert row, before it is written, inside the transaction that writes it
# (cases attach it there), so an alert is never recorded without joining its case.
AlertListener = Callable[[Session, Alert], None]


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
    query_hash: str = ""
    content_sha256: str = ""  # of the looked-up photo's or video's bytes


@dataclass(frozen=True)
class AlertInfo(NewAlert):
    id: int = 0
    created_at: datetime | None = None
    case_id: int | None = None


@dataclass(frozen=True)
class MatchSource:
    """Whom and what a look-up was about, given by the caller who wants its matches
    recorded as alerts: the platform's account id (the subject) and, optionally, its id
    of the upload. The core fills in the source kind and, when empty, an id of its own."""

    subject: str
    source_id: str = ""
    source_uri: str = ""
    viewers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name, text in (("subject", self.subject), ("source id", self.source_id)):
            if len(text) > MAX_TEXT or not text.isprintable():
                raise InvalidInput(f"the {name} must be printable text of at most {MAX_TEXT}")
        if not self.subject.strip():
            raise InvalidInput("recording alerts needs a subject (the platform's account id)")


def alerts_of(
    source_kind: str,
    source: MatchSource,
    source_id: str,
    result: LookupResult,
    content_sha256: str = "",
) -> list[NewAlert]:
    """One alert per match of a look-up; negative-bank matches never alert."""
    return [
        NewAlert(
            source_kind=source_kind,
            source_id=source.source_id or source_id,
            source_uri=source.source_uri,
            offset_s=_first_offset(match.video),
            bank=match.bank,
            content_id=match.content_id,
            external_id=match.external_id,
            labels=match.labels,
            kind=match.kind,
            distance=match.distance,
            transform=match.transform,
            subject=source.subject,
            viewers=source.viewers,
            query_hash=match.query_hash,
            content_sha256=content_sha256,
        )
        for match in result.matches
        if not match.negative
    ]


def _first_offset(video: object) -> float | None:
    segments = getattr(video, "segments", ())
    return segments[0].query_start if segments else None


def alert_info(row: Alert) -> AlertInfo:
    """A stored alert row as an ``AlertInfo``."""
    created = row.created_at
    return AlertInfo(
        source_kind=row.source_kind, source_id=row.source_id, source_uri=row.source_uri,
        offset_s=row.offset_s, bank=row.bank, content_id=row.content_id,
        external_id=row.external_id, labels=tuple(json.loads(row.labels_json)),
        kind=row.kind, distance=row.distance, transform=row.transform, subject=row.subject,
        viewers=tuple(json.loads(row.viewers_json)), query_hash=row.query_hash,
        content_sha256=row.content_sha256, id=row.id,
        created_at=created if created is None or created.tzinfo else created.replace(tzinfo=UTC),
        case_id=row.case_id,
    )  # fmt: skip


class AlertRepository:
    def __init__(
        self, sessions: sessionmaker[Session], *, listeners: Sequence[AlertListener] = ()
    ) -> None:
        self._sessions = sessions
        self.listeners = list(listeners)

    def record(self, alert: NewAlert) -> AlertInfo:
        """Write one alert in its own transaction and return it with its id."""
        return self.record_many([alert])[0]

    def record_many(self, alerts: Sequence[NewAlert]) -> list[AlertInfo]:
        """Write alerts in one transaction (a look-up's matches), each told to the
        listeners, and return them with their ids."""
        for alert in alerts:
            if alert.source_kind not in SOURCE_KINDS:
                raise InvalidInput(f"alert source kind must be one of {', '.join(SOURCE_KINDS)}")
        now = datetime.now(UTC)
        with self._sessions() as session, session.begin():
            rows = []
            for alert in alerts:
                row = Alert(
                    source_kind=alert.source_kind, source_id=alert.source_id,
                    source_uri=alert.source_uri, offset_s=alert.offset_s, bank=alert.bank,
                    content_id=alert.content_id, external_id=alert.external_id,
                    labels_json=json.dumps(list(alert.labels)), kind=alert.kind,
                    distance=alert.distance, transform=alert.transform, subject=alert.subject,
                    viewers_json=json.dumps(list(alert.viewers)), created_at=now,
                    query_hash=alert.query_hash, content_sha256=alert.content_sha256,
                )  # fmt: skip
                # Told before the row is written, so what a listener sets (its case) goes
                # in with the insert. A listener's first statement must be a write: on
                # SQLite a transaction that reads first can be refused its write later.
                for listener in self.listeners:
                    listener(session, row)
                session.add(row)
                rows.append(row)
            session.flush()
            return [alert_info(row) for row in rows]

    def get(self, alert_id: int) -> AlertInfo:
        with self._sessions() as session:
            row = session.get(Alert, alert_id)
            if row is None:
                raise NotFound(f"no alert with id {alert_id}")
            return alert_info(row)

    def list(
        self,
        *,
        source_kind: str | None = None,
        source_id: str | None = None,
        subject: str | None = None,
        case_id: int | None = None,
        limit: int = 100,
        before: int | None = None,
    ) -> list[AlertInfo]:
        """The newest alerts first (older than id ``before`` when given), filtered."""
        query = select(Alert).order_by(Alert.id.desc()).limit(limit)
        if source_kind is not None:
            query = query.where(Alert.source_kind == source_kind)
        if source_id is not None:
            query = query.where(Alert.source_id == source_id)
        if subject is not None:
            query = query.where(Alert.subject == subject)
        if case_id is not None:
            query = query.where(Alert.case_id == case_id)
        if before is not None:
            query = query.where(Alert.id < before)
        with self._sessions() as session:
            return [alert_info(row) for row in session.scalars(query)]
