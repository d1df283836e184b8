"""Append to the audit log, read it, verify its chain.

Entries are written inside the transaction of what they record (a decision and its entry
commit together, or neither does). Each entry's hash covers the previous entry's hash and
its own fields, so an entry edited, deleted or moved breaks the chain at that point, and
the head row (the last hash and the count) shows entries cut off the end.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from lykta.store.models import AuditEntry, AuditHead

GENESIS = "0" * 64
VERIFY_BATCH = 10_000


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
    canonical = json.dumps(
        [prev_hash, _utc(at).isoformat(), actor, action, target, detail_json],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


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

    def verify(self) -> Verification:
        """Walk the chain in order and name the first entry that does not fit."""
        checked = 0
        expected = GENESIS
        with self._sessions() as session, session.begin():
            head = session.get(AuditHead, 1)
            for entry_id, at, actor, action, target, detail, prev, digest in self._rows(session):
                if prev != expected:
                    problem = "does not follow the entry before it (one deleted or moved)"
                    return Verification(checked, entry_id, problem)
                if entry_hash(prev, at, actor, action, target, detail) != digest:
                    return Verification(checked, entry_id, "was edited (its hash differs)")
                expected = digest
                checked += 1
            if head is None or head.entries != checked or head.entry_hash != expected:
                return Verification(checked, None, "entries are missing from the end")
        return Verification(checked)

    def _rows(self, session: Session) -> Iterator[Any]:
        columns = (
            AuditEntry.id, AuditEntry.at, AuditEntry.actor, AuditEntry.action,
            AuditEntry.target, AuditEntry.detail_json, AuditEntry.prev_hash,
            AuditEntry.entry_hash,
        )  # fmt: skip
        after = 0
        while True:
            batch = session.execute(
                select(*columns)
                .where(AuditEntry.id > after)
                .order_by(AuditEntry.id)
                .limit(VERIFY_BATCH)
            ).all()
            if not batch:
                return
            yield from batch
            after = batch[-1][0]
