"""Who owns an indexed hash: its content item, bank and the item's metadata, in memory.

The indexes hold only hash ids; a look-up that finds candidates needs their owners. Every
indexed hash's owner is kept here, read with the hash from the change log and published
with the indexes, so a look-up never reads the database, right after a start included.
Owners are columns sorted by hash id (memory-mapped from the index snapshot) plus a small
dict of the hashes added since the last merge. A hash row, its content's external id and
labels never change once written (they are only deleted), so an owner stays true.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lykta.index._common import load_dir, narrow_ids, save_dir
from lykta.store.models import Content, ContentHash

# Candidate ids per IN (...) query: well inside every database's parameter limits.
ROWS_PER_QUERY = 5_000
#: Owners added since the last merge kept as objects; past this the follower merges them.
DELTA_LIMIT = 32_768
#: Deleted owners kept in the columns, as a share of them, before a merge drops them.
COMPACT_RATIO = 0.10

_KIND = "lykta.owners"
_VERSION = 1
_ARRAYS = [
    "hash_ids", "content_ids", "bank_ids", "seconds", "external", "external_ends",
    "label_codes", "labels", "label_ends",
]  # fmt: skip
_NO_IDS = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True, slots=True)
class Owner:
    content_id: int
    bank_id: int
    external_id: str | None
    labels: tuple[str, ...]
    # Where in the bank video the hash's frame is; None for photos and bare hashes.
    seconds: float | None = None


class OwnerRows:
    """Owners as the change log yields them, gathered into compact columns: a first load
    of millions holds no object per hash. Labels are interned (they repeat)."""

    def __init__(self) -> None:
        self.hash_ids = array("q")
        self.content_ids = array("q")
        self.bank_ids = array("q")
        self.seconds = array("d")
        self.external = bytearray()
        self.external_ends = array("q")
        self.label_codes = array("q")
        self._labels: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.hash_ids)

    def append(
        self,
        hash_id: int,
        content_id: int,
        bank_id: int,
        seconds: float | None,
        external_id: str | None,
        labels_json: str,
    ) -> None:
        self.hash_ids.append(hash_id)
        self.content_ids.append(content_id)
        self.bank_ids.append(bank_id)
        self.seconds.append(np.nan if seconds is None else seconds)
        # An empty external id is stored as none: the two are never told apart.
        if external_id:
            self.external += external_id.encode()
        self.external_ends.append(len(self.external))
        code = self._labels.get(labels_json)
        if code is None:
            code = self._labels[labels_json] = len(self._labels)
        self.label_codes.append(code)

    def add_owner(self, hash_id: int, owner: Owner) -> None:
        labels = json.dumps(list(owner.labels))
        self.append(
            hash_id, owner.content_id, owner.bank_id, owner.seconds, owner.external_id, labels
        )

    def owners(self) -> dict[int, Owner]:
        return _Columns.of(self).owners()


@dataclass(frozen=True)
class _Columns:
    """Owners sorted by hash id. ``seconds`` and the external-id arrays are empty when no
    row has one; labels are JSON texts, each stored once, that rows point to by code."""

    hash_ids: np.ndarray
    content_ids: np.ndarray
    bank_ids: np.ndarray
    seconds: np.ndarray  # NaN: none
    external: np.ndarray  # UTF-8 bytes of every row's external id, in row order
    external_ends: np.ndarray  # where each row's external id ends in `external`
    label_codes: np.ndarray
    labels: np.ndarray  # UTF-8 bytes of each distinct label set's JSON
    label_ends: np.ndarray

    @classmethod
    def empty(cls) -> _Columns:
        return cls.of(OwnerRows())

    @classmethod
    def of(cls, rows: OwnerRows) -> _Columns:
        labels = b"".join(text.encode() for text in rows._labels)
        label_ends = np.cumsum([len(text.encode()) for text in rows._labels], dtype=np.int64)
        seconds = np.frombuffer(rows.seconds, dtype=np.float64)
        columns = cls(
            hash_ids=np.frombuffer(rows.hash_ids, dtype=np.int64),
            content_ids=np.frombuffer(rows.content_ids, dtype=np.int64),
            bank_ids=np.frombuffer(rows.bank_ids, dtype=np.int64),
            seconds=seconds if not np.isnan(seconds).all() else seconds[:0],
            external=np.frombuffer(bytes(rows.external), dtype=np.uint8),
            external_ends=np.frombuffer(rows.external_ends, dtype=np.int64)
            if rows.external
            else _NO_IDS,
            label_codes=np.frombuffer(rows.label_codes, dtype=np.int64),
            labels=np.frombuffer(labels, dtype=np.uint8),
            label_ends=label_ends,
        )
        return columns.sorted()

    def __len__(self) -> int:
        return int(self.hash_ids.shape[0])

    @property
    def nbytes(self) -> int:
        return sum(int(getattr(self, name).nbytes) for name in _ARRAYS)

    def sorted(self) -> _Columns:
        """These rows in hash-id order (the change log yields them by revision), ids
        narrowed to 4 bytes and bank ids and label codes to 2 where they fit."""
        ids = self.hash_ids
        if ids.size > 1 and not np.all(ids[1:] > ids[:-1]):
            return self.take(np.argsort(ids, kind="stable")).sorted()
        return _Columns(
            narrow_ids(ids), narrow_ids(self.content_ids), _narrow_codes(self.bank_ids),
            self.seconds, self.external, self.external_ends, _narrow_codes(self.label_codes),
            self.labels, self.label_ends,
        )  # fmt: skip

    def take(self, rows: np.ndarray) -> _Columns:
        """The given rows, in that order; external ids are gathered, labels shared."""
        external, external_ends = self.external, self.external_ends
        if external_ends.size:
            starts = np.concatenate([[0], external_ends[:-1]])[rows]
            lengths = external_ends[rows] - starts
            external_ends = np.cumsum(lengths, dtype=np.int64)
            gather = np.repeat(starts - (external_ends - lengths), lengths)
            external = external[gather + np.arange(gather.size)]
        return _Columns(
            self.hash_ids[rows], self.content_ids[rows], self.bank_ids[rows],
            self.seconds[rows] if self.seconds.size else self.seconds, external,
            external_ends, self.label_codes[rows], self.labels, self.label_ends,
        )  # fmt: skip

    def owner(self, row: int, label_sets: Sequence[tuple[str, ...]] | None = None) -> Owner:
        """Row ``row``'s owner; ``label_sets`` (from ``label_sets()``) spares decoding its
        labels when many rows are read."""
        external_id = None
        if self.external_ends.size:
            start = int(self.external_ends[row - 1]) if row else 0
            end = int(self.external_ends[row])
            if end > start:
                external_id = self.external[start:end].tobytes().decode()
        code = int(self.label_codes[row])
        labels = self.label_set(code) if label_sets is None else label_sets[code]
        seconds = float(self.seconds[row]) if self.seconds.size else np.nan
        return Owner(
            int(self.content_ids[row]),
            int(self.bank_ids[row]),
            external_id,
            labels,
            None if np.isnan(seconds) else seconds,
        )

    def label_set(self, code: int) -> tuple[str, ...]:
        start = int(self.label_ends[code - 1]) if code else 0
        return tuple(json.loads(self.labels[start : int(self.label_ends[code])].tobytes()))

    def owners(self) -> dict[int, Owner]:
        label_sets = [self.label_set(code) for code in range(self.label_ends.shape[0])]
        return {
            int(hash_id): self.owner(row, label_sets) for row, hash_id in enumerate(self.hash_ids)
        }

    def rows_of(self, hash_ids: np.ndarray) -> np.ndarray:
        """Row of each hash id, -1 where absent."""
        rows = np.full(hash_ids.shape[0], -1, dtype=np.int64)
        if not len(self) or not hash_ids.size:
            return rows
        column = self.hash_ids
        info = np.iinfo(column.dtype)
        fits = (hash_ids >= info.min) & (hash_ids <= info.max)
        # Cast the needles, never the column: searchsorted would copy all of it.
        needles = hash_ids[fits].astype(column.dtype)
        at = np.minimum(np.searchsorted(column, needles), len(self) - 1)
        rows[fits] = np.where(column[at] == needles, at, -1)
        return rows

    def save(self, path: Path) -> None:
        arrays = {name: getattr(self, name) for name in _ARRAYS}
        save_dir(path, _KIND, {"rows": len(self)}, arrays, version=_VERSION)

    @classmethod
    def load(cls, path: Path) -> _Columns:
        _, arrays = load_dir(path, _KIND, _ARRAYS, version=_VERSION)
        return cls(**arrays)


def _narrow_codes(codes: np.ndarray) -> np.ndarray:
    """The narrowest of int16, int32 and int64 that holds every code (all >= 0)."""
    top = int(codes.max()) if codes.size else 0
    dtype = np.int16 if top < 2**15 else np.int32 if top < 2**31 else np.int64
    return codes if codes.dtype == dtype else codes.astype(dtype)


def _concat(first: _Columns, second: _Columns) -> _Columns:
    """Rows of both, ``first``'s then ``second``'s, in hash-id order."""
    if not len(first):
        return second.sorted()
    if not len(second):
        return first.sorted()
    n1, n2 = len(first), len(second)

    def seconds(part: _Columns, rows: int) -> np.ndarray:
        return part.seconds if part.seconds.size else np.full(rows, np.nan)

    def ends(part: _Columns, rows: int) -> np.ndarray:
        return part.external_ends if part.external_ends.size else np.zeros(rows, np.int64)

    any_seconds = first.seconds.size or second.seconds.size
    any_external = first.external_ends.size or second.external_ends.size
    labels_shift = first.label_ends.shape[0]
    return _Columns(
        hash_ids=np.concatenate([first.hash_ids.astype(np.int64), second.hash_ids]),
        content_ids=np.concatenate([first.content_ids.astype(np.int64), second.content_ids]),
        bank_ids=np.concatenate([first.bank_ids.astype(np.int64), second.bank_ids]),
        seconds=np.concatenate([seconds(first, n1), seconds(second, n2)])
        if any_seconds
        else first.seconds,
        external=np.concatenate([first.external, second.external]),
        external_ends=np.concatenate([ends(first, n1), ends(second, n2) + first.external.shape[0]])
        if any_external
        else _NO_IDS,
        label_codes=np.concatenate(
            [first.label_codes.astype(np.int64), second.label_codes.astype(np.int64) + labels_shift]
        ),
        labels=np.concatenate([first.labels, second.labels]),
        label_ends=np.concatenate([first.label_ends, second.label_ends + first.labels.shape[0]]),
    ).sorted()


class OwnerTable:
    """The owner of every indexed hash, as one version: never changed once published.

    ``changed`` returns the next version (the columns shared, the delta copied); ``merged``
    folds the delta in and drops deleted owners, in linear time, outside any lock, and
    ``rebased`` replays onto a merged version what changed while it was being made.
    """

    def __init__(
        self,
        columns: _Columns | None = None,
        delta: dict[int, Owner] | None = None,
        removed: np.ndarray = _NO_IDS,
    ) -> None:
        self._columns = _Columns.empty() if columns is None else columns
        self._delta = {} if delta is None else delta
        # Ids deleted from the columns since they were built, dropped by the next merge.
        self._removed = removed

    @property
    def nbytes(self) -> int:
        return self._columns.nbytes

    def find(self, hash_ids: Sequence[int]) -> dict[int, Owner]:
        """The owners of these hashes that are known. A deleted hash's owner may linger
        until the next merge: callers ask only for hashes their published index holds."""
        found: dict[int, Owner] = {}
        rest = []
        for hash_id in hash_ids:
            owner = self._delta.get(hash_id)
            if owner is None:
                rest.append(hash_id)
            else:
                found[hash_id] = owner
        if rest:
            columns = self._columns
            wanted = np.array(rest, dtype=np.int64)
            for hash_id, row in zip(rest, columns.rows_of(wanted).tolist(), strict=True):
                if row >= 0:
                    found[hash_id] = columns.owner(row)
        return found

    def changed(self, added: OwnerRows, removed: np.ndarray, *, merge: bool) -> OwnerTable:
        """The next version: ``removed`` hash ids gone, then ``added`` owners in (as the
        indexes apply a change-log read); with ``merge`` (a first load, a big import) all
        of it folded into the columns at once."""
        delta = self._delta
        if removed.size:
            gone_ids = set(removed.tolist())
            delta = {k: v for k, v in delta.items() if k not in gone_ids}
        gone = np.concatenate([self._removed, removed]) if removed.size else self._removed
        if merge:
            return OwnerTable(self._columns, delta, gone).merged(_Columns.of(added))
        if len(added):
            delta = {**delta, **added.owners()}
        return OwnerTable(self._columns, delta, gone)

    def needs_merge(self) -> bool:
        return len(self._delta) > DELTA_LIMIT or self._removed.size > COMPACT_RATIO * len(
            self._columns
        )

    def merged(self, added: _Columns | None = None) -> OwnerTable:
        """A version with the delta (and ``added``) folded into the columns and deleted
        owners dropped: the same owners, in columns."""
        if not self._delta and not self._removed.size and added is None:
            return self
        rows = OwnerRows()
        for hash_id, owner in self._delta.items():
            rows.add_owner(hash_id, owner)
        new = _Columns.of(rows) if added is None else _concat(_Columns.of(rows), added)
        # Owners replayed from the change log may be in the columns already (a snapshot
        # holds part of the replayed range): the newer copy is kept.
        stale = np.concatenate([self._removed, new.hash_ids.astype(np.int64)])
        kept = self._columns
        if stale.size and len(kept):
            drop = np.isin(kept.hash_ids, stale)
            if drop.any():
                kept = kept.take(np.flatnonzero(~drop))
        return OwnerTable(_concat(kept, new))

    def rebased(self, base: OwnerTable, current: OwnerTable) -> OwnerTable | None:
        """This merge of ``base`` with what ``current`` changed since ``base`` replayed
        on it; None when ``current`` does not descend from ``base`` (the database was
        replaced, or another merge was published)."""
        if current._columns is not base._columns:
            return None
        added = OwnerRows()
        for hash_id, owner in current._delta.items():
            if hash_id not in base._delta:
                added.add_owner(hash_id, owner)
        removed = current._removed[base._removed.shape[0] :]
        return self.changed(added, removed, merge=False)

    def save(self, path: Path) -> None:
        """Write the owners (the delta folded in) to directory ``path``."""
        self.merged()._columns.save(path)

    @classmethod
    def load(cls, path: Path) -> Self:
        """Open owners written by ``save``, memory-mapped."""
        return cls(_Columns.load(path))


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
