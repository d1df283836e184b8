"""Reading the change log: the hashes added and removed between two revisions.

Every write stamps the rows it adds (and the tombstones of those it deletes) with the
revision it took; a replica that has applied everything up to revision `r` reads what lies
in `(r, target]` and is then exactly as current as the database was at `target`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import FromClause, func, select
from sqlalchemy.orm import Session, sessionmaker

from lykta.errors import InvalidInput
from lykta.hashing.registry import get_hasher
from lykta.matching.owners import OwnerRows
from lykta.store.models import Content, ContentHash, HashTombstone

log = logging.getLogger(__name__)

PAGE = 200_000


@dataclass
class Changes:
    removed: dict[str, np.ndarray] = field(default_factory=dict)
    #: kind -> (hash ids, codes as an (n, code_bytes) uint8 array)
    added: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    #: The owners of the added hashes, read with them so look-ups never read them.
    owners: OwnerRows = field(default_factory=OwnerRows)

    @property
    def count(self) -> int:
        return sum(len(ids) for ids in self.removed.values()) + sum(
            len(ids) for ids, _ in self.added.values()
        )


def count_additions(session: Session, after: int, upto: int) -> int:
    """How many hashes a read of ``(after, upto]`` will add, for a progress bar."""
    table = ContentHash.__table__
    where = (table.c.revision > after) & (table.c.revision <= upto)
    return session.scalar(select(func.count()).select_from(table).where(where)) or 0


def read_changes(
    sessions: sessionmaker[Session],
    after: int,
    upto: int,
    progress: Callable[[int], None] | None = None,
) -> Changes:
    changes = Changes()
    removed: dict[str, list[int]] = {}
    for rows in _pages(sessions, HashTombstone.__table__, "hash_id", ["kind"], after, upto):
        for _, hash_id, kind in rows:
            removed.setdefault(kind, []).append(hash_id)
    changes.removed = {
        kind: np.array(ids, dtype=np.int64) for kind, ids in removed.items() if _known(kind)
    }
    # Rows are read as plain tuples (no ORM objects) and handed to each index at once, so
    # loading millions of hashes costs one merge, not many.
    ids: dict[str, list[int]] = {}
    values: dict[str, list[bytes]] = {}
    read = 0
    hashes, content = ContentHash.__table__, Content.__table__
    columns = [
        hashes.c.kind, hashes.c.value, hashes.c.content_id, hashes.c.bank_id,
        hashes.c.seconds, content.c.external_id, content.c.labels,
    ]  # fmt: skip
    joined = hashes.join(content, content.c.id == hashes.c.content_id)
    owners = changes.owners
    known: dict[str, bool] = {}
    for rows in _pages(sessions, hashes, "id", columns, after, upto, joined):
        for _, hash_id, kind, value, content_id, bank_id, seconds, external_id, labels in rows:
            ids.setdefault(kind, []).append(hash_id)
            values.setdefault(kind, []).append(value)
            if known.setdefault(kind, _known(kind)):
                owners.append(hash_id, content_id, bank_id, seconds, external_id, labels)
        read += len(rows)
        if progress:
            progress(read)
    for kind, kind_ids in ids.items():
        if not _known(kind):
            continue
        codes = np.frombuffer(b"".join(values[kind]), dtype=np.uint8)
        changes.added[kind] = (
            np.array(kind_ids, dtype=np.int64),
            codes.reshape(len(kind_ids), get_hasher(kind).code_bytes),
        )
    return changes


_reported: set[str] = set()


def _known(kind: str) -> bool:
    """Whether this process can index ``kind``. Another replica may run a plugin this one
    lacks: its hashes are left out here (said once) rather than stopping every sync."""
    try:
        get_hasher(kind)
    except InvalidInput:
        if kind not in _reported:
            _reported.add(kind)
            log.error("hash kind %r is in the database but no plugin here provides it", kind)
        return False
    return True


def _pages(
    sessions: sessionmaker[Session],
    table: FromClause,
    id_column: str,
    columns: Sequence[Any],
    after: int,
    upto: int,
    source: FromClause | None = None,
) -> Iterator[Sequence[Any]]:
    """Rows with `after < revision <= upto`, in (revision, id) order, a page at a time;
    ``columns`` are names in ``table`` or columns of ``source`` (``table`` joined to more).

    Each page is one index range scan: within a revision it continues after the last
    id seen, then moves on to later revisions. (A row-value `(revision, id) > (r, i)`
    would make SQLite scan a huge single revision from its start on every page.)
    """
    revision, row_id = table.c.revision, table.c[id_column]
    selected = [revision, row_id, *(table.c[c] if isinstance(c, str) else c for c in columns)]
    current, last_id = after, None
    while True:
        order: tuple[Any, ...]
        if last_id is None:
            where = (revision > current) & (revision <= upto)
            order = (revision, row_id)
        else:
            where = (revision == current) & (row_id > last_id)
            order = (row_id,)
        with sessions() as session:
            rows = (
                session.connection()
                .execute(
                    select(*selected)
                    .select_from(table if source is None else source)
                    .where(where)
                    .order_by(*order)
                    .limit(PAGE)
                )
                .all()
            )
        if rows:
            yield rows
            current, last_id = rows[-1][0], rows[-1][1]
        elif last_id is None:
            return
        else:
            last_id = None
