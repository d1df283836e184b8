"""Who owns an indexed hash: its content item, bank and the item's metadata.

The indexes hold only hash ids. A look-up that finds candidates needs their owners; the
recent ones are kept here so the hot path rarely reads the database, and a read, when one
is needed, fetches every missing candidate in one query. Hash rows never change once
written (they are only deleted, and deletions evict them), so a cached owner stays true.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lykta.store.models import Content, ContentHash

# Candidate ids per IN (...) query: well inside every database's parameter limits.
ROWS_PER_QUERY = 5_000


@dataclass(frozen=True, slots=True)
class Owner:
    content_id: int
    bank_id: int
    external_id: str | None
    labels: tuple[str, ...]
    # Where in the bank video the hash's frame is; None for photos and bare hashes.
    seconds: float | None = None


class OwnerCache:
    """Owners of recently matched hashes, bounded; safe to share between threads."""

    def __init__(self, sessions: sessionmaker[Session], capacity: int = 200_000) -> None:
        self._sessions = sessions
        self._capacity = capacity
        self._owners: dict[int, Owner] = {}
        self._lock = threading.Lock()

    def cached(self, hash_ids: Iterable[int]) -> tuple[dict[int, Owner], list[int]]:
        """The owners held in memory, and the ids that are not."""
        found: dict[int, Owner] = {}
        missing: list[int] = []
        owners = self._owners
        for hash_id in hash_ids:
            owner = owners.get(hash_id)
            if owner is None:
                missing.append(hash_id)
            else:
                found[hash_id] = owner
        return found, missing

    def fetch(self, hash_ids: list[int]) -> dict[int, Owner]:
        """Read owners from the database (hashes deleted meanwhile are left out)."""
        found: dict[int, Owner] = {}
        ordered = sorted(set(hash_ids))
        with self._sessions() as session:
            for start in range(0, len(ordered), ROWS_PER_QUERY):
                rows = session.execute(
                    select(ContentHash.id, Content.id, Content.bank_id, Content.external_id)
                    .add_columns(Content.labels_json, ContentHash.seconds)
                    .join(Content, Content.id == ContentHash.content_id)
                    .where(ContentHash.id.in_(ordered[start : start + ROWS_PER_QUERY]))
                ).all()
                for hash_id, content_id, bank_id, external_id, labels, seconds in rows:
                    found[hash_id] = Owner(
                        content_id, bank_id, external_id, tuple(json.loads(labels)), seconds
                    )
        with self._lock:
            if len(self._owners) + len(found) > self._capacity:
                # Rare and cheap: start over rather than track recency on every look-up.
                self._owners = {}
            self._owners.update(found)
        return found

    def forget(self, hash_ids: Iterable[int]) -> None:
        with self._lock:
            for hash_id in hash_ids:
                self._owners.pop(hash_id, None)

    def clear(self) -> None:
        with self._lock:
            self._owners = {}


def video_lengths(
    sessions: sessionmaker[Session], content_ids: Iterable[int]
) -> dict[int, float | None]:
    """Each content item's length in seconds: its duration, else its last frame's time
    (None for items without frames)."""
    ordered = sorted(set(content_ids))
    lengths: dict[int, float | None] = {}
    with sessions() as session:
        for start in range(0, len(ordered), ROWS_PER_QUERY):
            rows = session.execute(
                select(Content.id, Content.duration, func.max(ContentHash.seconds))
                .join(ContentHash, ContentHash.content_id == Content.id)
                .where(Content.id.in_(ordered[start : start + ROWS_PER_QUERY]))
                .group_by(Content.id, Content.duration)
            ).all()
            for content_id, duration, last_frame in rows:
                lengths[content_id] = duration if duration else last_frame
    return lengths
