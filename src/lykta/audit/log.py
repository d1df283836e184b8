"""Append to the audit log, read it, verify its chain.

Entries are written inside the transaction of what they record (a decision and its entry
commit together, or neither does). Each entry's hash covers the previous entry's hash and
its own fields, so an entry edited, deleted or moved breaks the chain at that point, and
the head row (the last hash and the count) shows entries cut off the end.
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
from collections.abc import Collection, Generator, Mapping, Sequence
from contextlib import closing, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from lykta.store.models import AuditEntry, AuditHead

GENESIS = "0" * 64
# The entry written before a person is served any media (a photo, a video, a frame).
MEDIA_VIEW = "media.view"
# Rows fetched at a time while verifying: large, to pay few round trips, and small enough
# that the batch being hashed and the one being fetched stay a few tens of megabytes.
VERIFY_BATCH = 50_000
# The JSON every entry hash is taken over (one encoder, not one per call: `json.dumps` with
# options builds a new one each time, a third of what encoding an entry costs).
_canonical = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


@dataclass(frozen=True)
class AuditEntryInfo:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: dict[str, Any]
    entry_hash: str


@dataclass(frozen=True)
class Verification:
    """What `verify` found: how many entries were checked and, when the chain is broken,
    the first bad entry's id (None when entries are missing from the end) and why."""

    checked: int
    first_bad: int | None = None
    problem: str = ""
    ok: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ok", not self.problem)


def _utc(moment: datetime) -> datetime:
    """SQLite hands datetimes back without their zone; every one stored is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def entry_hash(
    prev_hash: str, at: datetime, actor: str, action: str, target: str, detail_json: str
) -> str:
    return _digest(prev_hash, _utc(at).isoformat(), actor, action, target, detail_json)


def _digest(
    prev_hash: str, at_iso: str, actor: str, action: str, target: str, detail_json: str
) -> str:
    canonical = _canonical([prev_hash, at_iso, actor, action, target, detail_json])
    return hashlib.sha256(canonical.encode()).hexdigest()


def iso_text(dialect: str) -> ColumnElement[str]:
    """`at` as the database writes it in UTC with microseconds, ``YYYY-MM-DDTHH:MM:SS.ffffff``:
    `_iso` makes it what ``datetime.isoformat`` writes. Verification reads this text instead
    of datetimes, whose parsing (and, on PostgreSQL, time zone conversion) cost more than
    the hashing."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", AuditEntry.at), 'YYYY-MM-DD"T"HH24:MI:SS.US')
    # SQLite holds what SQLAlchemy wrote: the UTC time as YYYY-MM-DD HH:MM:SS.ffffff.
    return func.replace(AuditEntry.at, " ", "T")


def _iso(text: str) -> str:
    # isoformat leaves out the fraction of a whole second.
    return (text[:-7] if text.endswith(".000000") else text) + "+00:00"


class AuditLog:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def append(
        self,
        session: Session,
        actor: str,
        action: str,
        target: str = "",
        detail: Mapping[str, Any] | None = None,
    ) -> int:
        """Add an entry inside the caller's transaction; returns its id."""
        # Updating the head first takes its lock, so appenders queue and the chain is linear.
        prev_hash = session.execute(
            update(AuditHead)
            .where(AuditHead.id == 1)
            .values(entries=AuditHead.entries + 1)
            .returning(AuditHead.entry_hash)
        ).scalar_one()
        # Microseconds are what both databases keep.
        at = datetime.now(UTC)
        detail_json = json.dumps(dict(detail or {}), sort_keys=True, default=str)
        digest = entry_hash(prev_hash, at, actor, action, target, detail_json)
        row = AuditEntry(
            at=at, actor=actor, action=action, target=target, detail_json=detail_json,
            prev_hash=prev_hash, entry_hash=digest,
        )  # fmt: skip
        session.add(row)
        session.execute(update(AuditHead).where(AuditHead.id == 1).values(entry_hash=digest))
        session.flush()
        return row.id

    def record(
        self, actor: str, action: str, target: str = "", detail: Mapping[str, Any] | None = None
    ) -> int:
        """Add an entry in its own transaction (an action with no other write: a view)."""
        with self._sessions() as session, session.begin():
            return self.append(session, actor, action, target, detail)

    def list(
        self,
        *,
        action: str | None = None,
        actor: str | None = None,
        target: str | None = None,
        before: int | None = None,
        limit: int = 100,
    ) -> list[AuditEntryInfo]:
        """The newest entries first, filtered; page with ``before`` (an entry id)."""
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if action is not None:
            query = query.where(AuditEntry.action == action)
        if actor is not None:
            query = query.where(AuditEntry.actor == actor)
        if target is not None:
            query = query.where(AuditEntry.target == target)
        if before is not None:
            query = query.where(AuditEntry.id < before)
        with self._sessions() as session:
            return [
                AuditEntryInfo(
                    row.id,
                    _utc(row.at),
                    row.actor,
                    row.action,
                    row.target,
                    json.loads(row.detail_json),
                    row.entry_hash,
                )
                for row in session.scalars(query)
            ]

    def media_views(self, sha256s: Collection[str]) -> dict[str, set[str]]:
        """For each of these media (by SHA-256) that anyone was served, in any case, the
        parts served: `photo`, `video` (the whole file) or `frame:N` (a storyboard frame)."""
        if not sha256s:
            return {}
        # `append` writes the detail with json.dumps' default separators and sorted keys;
        # the JSON is read back to be sure of the match.
        wanted = [AuditEntry.detail_json.contains(f'"sha256": "{sha}"') for sha in sha256s]
        query = select(AuditEntry.detail_json).where(AuditEntry.action == MEDIA_VIEW, or_(*wanted))
        parts: dict[str, set[str]] = {}
        with self._sessions() as session:
            for detail_json in session.scalars(query):
                detail = json.loads(detail_json)
                if detail.get("sha256") in sha256s:
                    parts.setdefault(detail["sha256"], set()).add(str(detail.get("part", "")))
        return parts

    def verify(self) -> Verification:
        """Walk the chain in order and name the first entry that does not fit.

        One query reads the entries in order, a thread fetching the next batch while this
        one hashes the last (the database and the driver's network reads overlap the
        hashing). The head and the entries are read in one snapshot, so entries appended
        meanwhile are not mistaken for a broken end."""
        checked = 0
        expected = GENESIS
        with self._sessions() as session, session.begin():
            snapshot: dict[str, Any] = {}
            dialect = session.get_bind().dialect.name
            if dialect == "postgresql":
                snapshot = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
            connection = session.connection(execution_options=snapshot)
            if dialect == "sqlite":
                # Python's sqlite3 begins no transaction for reads, so each query would see
                # the log as it is then; one read transaction keeps WAL's snapshot for both.
                connection.exec_driver_sql("BEGIN")
            head = connection.execute(
                select(AuditHead.entries, AuditHead.entry_hash).where(AuditHead.id == 1)
            ).first()
            with closing(_prefetched(self._batches(connection))) as batches:
                for batch in batches:
                    for entry_id, at, actor, action, target, detail, prev, digest in batch:
                        if prev != expected:
                            problem = "does not follow the entry before it (one deleted or moved)"
                            return Verification(checked, entry_id, problem)
                        if _digest(prev, _iso(at), actor, action, target, detail) != digest:
                            return Verification(checked, entry_id, "was edited (its hash differs)")
                        expected = digest
                        checked += 1
            if head is None or head.entries != checked or head.entry_hash != expected:
                return Verification(checked, None, "entries are missing from the end")
        return Verification(checked)

    @staticmethod
    def _batches(connection: Connection) -> Generator[Sequence[Any]]:
        columns = (
            AuditEntry.id, iso_text(connection.dialect.name), AuditEntry.actor,
            AuditEntry.action, AuditEntry.target, AuditEntry.detail_json,
            AuditEntry.prev_hash, AuditEntry.entry_hash,
        )  # fmt: skip
        query = select(*columns).order_by(AuditEntry.id)
        sql = str(query.compile(connection, compile_kwargs={"literal_binds": True}))
        # The driver's own cursor: its plain tuples cost a third less than result rows,
        # which a million entries notice. On PostgreSQL a named cursor is a server-side
        # one, so the entries arrive batch by batch, never all at once in memory.
        driver = connection.connection.dbapi_connection
        assert driver is not None  # a connection in use has one
        postgres = connection.dialect.name == "postgresql"
        cursor = driver.cursor(name="lykta_audit_verify") if postgres else driver.cursor()
        try:
            cursor.execute(sql)
            while batch := cursor.fetchmany(VERIFY_BATCH):
                yield batch
        finally:
            cursor.close()


def _prefetched(batches: Generator[Sequence[Any]]) -> Generator[Sequence[Any]]:
    """``batches``, each fetched on a thread of their own while the caller works on the one
    before. The connection behind ``batches`` is used on that thread only, until the last
    batch is handed over or the caller stops (the thread is then told to, and waited for)."""
    handed: queue.Queue[tuple[Sequence[Any] | None, BaseException | None]] = queue.Queue(1)
    stop = threading.Event()

    def hand(item: tuple[Sequence[Any] | None, BaseException | None]) -> bool:
        while not stop.is_set():
            with suppress(queue.Full):
                handed.put(item, timeout=0.05)
                return True
        return False

    def fetch() -> None:
        try:
            with closing(batches):  # the driver's cursor is closed on this thread
                for batch in batches:
                    if not hand((batch, None)):
                        return
            hand((None, None))
        except BaseException as error:  # raised on the caller's thread
            hand((None, error))

    fetcher = threading.Thread(target=fetch, name="lykta-audit-verify", daemon=True)
    fetcher.start()
    try:
        while True:
            batch, error = handed.get()
            if error is not None:
                raise error
            if batch is None:
                return
            yield batch
    finally:
        stop.set()
        fetcher.join()
