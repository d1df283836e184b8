"""Writing and reading content items in bulk: an import of a million hashes spends its time
in the database, not in per-row ORM work."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import delete, func, insert, literal, select
from sqlalchemy.orm import Session

from lykta.banks.items import ContentItem, ItemHash
from lykta.hashing.registry import get_hasher
from lykta.store.models import Content, ContentHash, HashTombstone, utcnow

INSERT_CHUNK = 20_000
# Values per IN (...) query: well inside every database's parameter limits.
LOOKUP_CHUNK = 5_000
# Up to this many hashes, probing the bank's index beats counting the bank to choose.
ALWAYS_PROBE = 20_000

Key = tuple[str, bytes]

_CONTENT_COLUMNS = (
    "id", "bank_id", "external_id", "labels", "media_kind", "duration", "note", "added_at",
    "added_by", "revision",
)  # fmt: skip
_HASH_COLUMNS = ("content_id", "bank_id", "kind", "value", "quality", "seconds", "revision")


def existing_owners(
    session: Session, bank_id: int, keys: Sequence[Sequence[Key]]
) -> dict[Key, set[int]]:
    """For each of ``keys`` the bank already holds: the content items holding it.

    Reads the whole bank when that is cheaper than probing its index per hash (a big import
    into a small bank); probes when adding a few items, without even counting the bank.
    """
    owners: dict[Key, set[int]] = {}
    flat = list({key for item in keys for key in item})
    if not flat:
        return owners
    columns = (ContentHash.kind, ContentHash.value, ContentHash.content_id)
    whole_bank = len(flat) > ALWAYS_PROBE and (
        session.scalar(
            select(func.count()).select_from(ContentHash).where(ContentHash.bank_id == bank_id)
        )
        or 0
    ) <= 4 * len(flat)
    if whole_bank:
        queries = [select(*columns).where(ContentHash.bank_id == bank_id)]
    else:
        # Probe per kind: (bank_id, kind, value) is the index, and leaving the kind out would
        # walk every entry of the bank.
        by_kind: dict[str, list[bytes]] = {}
        for kind, value in flat:
            by_kind.setdefault(kind, []).append(value)
        queries = [
            select(*columns).where(
                ContentHash.bank_id == bank_id,
                ContentHash.kind == kind,
                ContentHash.value.in_(values[start : start + LOOKUP_CHUNK]),
            )
            for kind, values in by_kind.items()
            for start in range(0, len(values), LOOKUP_CHUNK)
        ]
    for query in queries:
        for kind, value, content_id in session.execute(query):
            owners.setdefault((kind, value), set()).add(content_id)
    return owners


class ContentWriter:
    """Buffers new items and writes them in large executemany batches, content rows with ids
    reserved up front so their hash rows can point at them without a read-back."""

    def __init__(
        self,
        session: Session,
        bank_id: int,
        added_by: str,
        revision: int,
        progress: Callable[[int, int], None] | None,
        total: int,
    ) -> None:
        self._session = session
        self._connection = session.connection()
        dialect = self._connection.dialect
        marker = "?" if dialect.paramstyle == "qmark" else "%s"
        self._content_sql = _insert_sql("content", _CONTENT_COLUMNS, marker)
        self._hash_sql = _insert_sql("content_hash", _HASH_COLUMNS, marker)
        # The dialect's own conversion, once: left to the driver, a timestamp would be
        # formatted again for every row (and differently from the ORM's rows on SQLite).
        to_db = Content.__table__.c.added_at.type.dialect_impl(dialect).bind_processor(dialect)
        now = utcnow()
        self._now = to_db(now) if to_db else now
        self._fixed = (bank_id, added_by, revision)
        self._labels: dict[tuple[str, ...], str] = {}
        self._ids: list[int | None] = []  # content id per slot, once written
        self._pending: list[tuple[int, ContentItem, list[Key]]] = []
        self._pending_hashes = 0
        self._written = 0
        self._progress = progress
        self._total = total

    def known(self, content_id: int) -> int:
        """A slot for an item the bank already holds."""
        self._ids.append(content_id)
        return len(self._ids) - 1

    def add(self, item: ContentItem, keys: list[Key]) -> int:
        """A slot for a new item, written by the next flush."""
        self._ids.append(None)
        slot = len(self._ids) - 1
        self._pending.append((slot, item, keys))
        self._pending_hashes += len(keys)
        if self._pending_hashes >= INSERT_CHUNK:
            self._flush()
        return slot

    def content_id(self, slot: int) -> int:
        content_id = self._ids[slot]
        assert content_id is not None, "content_id() is read after finish()"
        return content_id

    def finish(self) -> int:
        """Write what is buffered; return how many items were added."""
        self._flush()
        return self._written

    def _flush(self) -> None:
        if self._pending:
            ids = _reserve_ids(self._session, len(self._pending))
            bank_id, added_by, revision = self._fixed
            contents: list[tuple[Any, ...]] = []
            hashes: list[tuple[Any, ...]] = []
            for content_id, (slot, item, keys) in zip(ids, self._pending, strict=True):
                self._ids[slot] = content_id
                labels = self._labels.get(item.labels)
                if labels is None:
                    labels = self._labels.setdefault(item.labels, json.dumps(list(item.labels)))
                contents.append((content_id, bank_id, item.external_id, labels, item.media_kind,
                                 item.duration, item.note, self._now, added_by,
                                 revision))  # fmt: skip
                for hashed, (kind, value) in zip(item.hashes, keys, strict=True):
                    hashes.append(
                        (content_id, bank_id, kind, value, hashed.quality, hashed.seconds, revision)
                    )
            self._connection.exec_driver_sql(self._content_sql, contents)
            self._connection.exec_driver_sql(self._hash_sql, hashes)
            self._written += len(self._pending)
            self._pending = []
            self._pending_hashes = 0
        if self._progress:
            self._progress(self._written, self._total)


def _insert_sql(table: str, columns: Sequence[str], marker: str) -> str:
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([marker] * len(columns))})"
    )


def _reserve_ids(session: Session, count: int) -> list[int]:
    """``count`` new content ids. The caller holds the change-log lock, so on SQLite nobody
    else inserts meanwhile; PostgreSQL hands them out from the sequence."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        return list(
            connection.exec_driver_sql(
                "SELECT nextval('content_id_seq') FROM generate_series(1, %s)", (count,)
            ).scalars()
        )
    # SQLite's AUTOINCREMENT counter never goes back, so deleted ids are never handed out
    # again; explicit ids above it move it on.
    last = connection.exec_driver_sql(
        "SELECT seq FROM sqlite_sequence WHERE name = 'content'"
    ).scalar()
    top = max(last or 0, session.scalar(select(func.max(Content.id))) or 0)
    return list(range(top + 1, top + 1 + count))


def read_items(session: Session, rows: Sequence[Content]) -> list[ContentItem]:
    """The items of ``rows`` with all their hashes, in ``rows``' order."""
    hashes: dict[int, list[ItemHash]] = {row.id: [] for row in rows}
    ids = list(hashes)
    for start in range(0, len(ids), LOOKUP_CHUNK):
        for row in session.scalars(
            select(ContentHash)
            .where(ContentHash.content_id.in_(ids[start : start + LOOKUP_CHUNK]))
            .order_by(ContentHash.content_id, ContentHash.id)
        ):
            hasher = get_hasher(row.kind)
            hashes[row.content_id].append(
                ItemHash(row.kind, hasher.from_code(row.value), row.quality, row.seconds)
            )
    return [
        ContentItem(
            tuple(hashes[row.id]),
            row.external_id,
            row.labels,
            row.media_kind,
            row.duration,
            row.id,
            row.note,
        )
        for row in rows
    ]


def delete_content(session: Session, revision: int, content_ids: Sequence[int]) -> None:
    """Delete content items with their hashes, leaving tombstones at ``revision`` so every
    replica's index drops them. The caller holds the change-log lock."""
    for start in range(0, len(content_ids), LOOKUP_CHUNK):
        chunk = content_ids[start : start + LOOKUP_CHUNK]
        session.execute(
            insert(HashTombstone).from_select(
                ["hash_id", "kind", "revision"],
                select(ContentHash.id, ContentHash.kind, literal(revision)).where(
                    ContentHash.content_id.in_(chunk)
                ),
            )
        )
        session.execute(delete(ContentHash).where(ContentHash.content_id.in_(chunk)))
        session.execute(delete(Content).where(Content.id.in_(chunk)))
