"""``HammingIndex``: exact Hamming-distance search over 256-bit codes (PDQ).

Exactness is the contract: ``search`` returns what a brute-force scan returns, for every
distance 0..256. Up to ``TABLE_MAX_DISTANCE`` it runs a pigeonhole multi-index search
over substring tables shaped by ``LAYOUT``; above that it scans every code. See
``docs/index.md``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, NamedTuple, Self

import numpy as np

from lykta.index import _kernels
from lykta.index._common import (
    DELTA_LIMIT,
    MainIds,
    check_ids,
    check_new_ids,
    check_rows,
    load_dir,
    narrow_ids,
    remove_ids,
    save_dir,
)

CODE_BYTES = 32
CODE_BITS = 256


class Layout(NamedTuple):
    """Shape of the substring tables: ``tables`` disjoint substrings of ``width`` bits.

    Each table answers substring distances up to ``radius``, so by pigeonhole the tables
    are exact for every distance below ``tables * (radius + 1)``. The top 16 bits of a
    substring index a directory; the other ``width - 16`` (1..16) are stored per entry.
    """

    tables: int
    width: int
    radius: int

    @property
    def max_distance(self) -> int:
        return self.tables * (self.radius + 1) - 1

    @property
    def lo_dtype(self) -> type[np.unsignedinteger]:
        return np.uint8 if self.width <= 24 else np.uint16


#: Eleven 23-bit substrings (bits 253..255 are left out; pigeonhole does not need them).
LAYOUT = Layout(tables=11, width=23, radius=2)
#: Largest distance the substring tables answer; beyond it, search scans all codes.
TABLE_MAX_DISTANCE = LAYOUT.max_distance
#: Version of the saved files; older snapshots are refused (the app rebuilds them).
SAVE_VERSION = 2

_KIND = "lykta.hamming"
_ARRAYS = ["codes", "ids", "lo", "pos", "dirs", "dead", "delta_codes", "delta_ids"]


def _hi_masks(radius: int) -> tuple[np.ndarray, np.ndarray]:
    """All 16-bit masks of weight <= radius, lightest first, so each radius is a prefix."""
    masks = np.arange(1 << 16, dtype=np.int64)
    weights = np.bitwise_count(masks).astype(np.int64)
    keep = weights <= radius
    order = np.argsort(weights[keep], kind="stable")
    return masks[keep][order], weights[keep][order]


_MASKS, _MASK_WEIGHTS = _hi_masks(LAYOUT.radius)


def _pos_bytes(rows: int) -> int:
    return max(1, (max(rows - 1, 1).bit_length() + 7) // 8)


class HammingIndex:
    """Exact radius search over 256-bit codes with incremental adds and removes.

    ``delta_limit`` is how many recent adds are scanned by brute force before they are
    merged into the sorted tables (tests lower it to exercise merges on small inputs).
    """

    def __init__(self, *, delta_limit: int = DELTA_LIMIT) -> None:
        self._delta_limit = delta_limit
        self._codes = np.zeros((0, CODE_BYTES), dtype=np.uint8)
        self._main = MainIds(np.zeros(0, dtype=np.uint32))
        self._lo = np.zeros((LAYOUT.tables, 0), dtype=LAYOUT.lo_dtype)
        self._pos = np.zeros((LAYOUT.tables, 0), dtype=np.uint8)
        self._dirs = np.zeros((LAYOUT.tables, _kernels.BUCKETS + 1), dtype=np.uint32)
        self._delta_codes = np.zeros((0, CODE_BYTES), dtype=np.uint8)
        self._delta_ids = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return self._main.live + int(self._delta_ids.shape[0])

    @property
    def nbytes(self) -> int:
        arrays = [self._codes, self._lo, self._pos, self._delta_codes, self._delta_ids]
        # Tables of an empty main segment are not allocated in a meaningful sense.
        dirs = self._dirs.nbytes if len(self._main) else 0
        return sum(a.nbytes for a in arrays) + dirs + self._main.nbytes

    def add(self, ids: Any, codes: Any) -> None:
        """Add codes under unique ids; a duplicate id raises ``ValueError``."""
        ids = check_ids(ids)
        codes = check_rows(codes, CODE_BYTES, "codes", allow_single=False)
        if ids.shape[0] != codes.shape[0]:
            raise ValueError(f"got {ids.shape[0]} ids for {codes.shape[0]} codes")
        if not ids.size:
            return
        check_new_ids(ids, self._main, self._delta_ids)
        # New arrays, never appends in place: a copy taken earlier shares the old ones.
        self._delta_ids = np.concatenate([self._delta_ids, ids])
        self._delta_codes = np.concatenate([self._delta_codes, codes])

    def remove(self, ids: Any) -> int:
        """Remove ids, ignoring unknown ones (change-log replays repeat); return the count."""
        removed, self._delta_ids, self._delta_codes = remove_ids(
            ids, self._main, self._delta_ids, self._delta_codes
        )
        return removed

    def copy(self) -> Self:
        """A twin to change while this one keeps answering queries unchanged.

        The sorted tables and codes are shared (nothing changes them in place); only the
        tombstone bitmap is copied. Cost: the bitmap, one bit per row.
        """
        twin = copy.copy(self)
        twin._main = self._main.copy()
        return twin

    def needs_merge(self) -> bool:
        """Whether the delta or the tombstones have grown enough to merge (see ``merge``)."""
        return self._delta_ids.shape[0] > self._delta_limit or self._main.needs_compaction()

    def merge(self) -> None:
        """Fold the delta into the tables and drop removed rows, in linear time.

        Slow on a big index; run it on a ``copy()`` while the original answers queries.
        """
        self._merge()

    def query(self, codes: Any, max_distance: int) -> list[list[tuple[int, int]]]:
        """For each query code, the (id, distance) pairs within ``max_distance``.

        Each list is sorted by (distance, id). A single ``(32,)`` code is one query.
        """
        queries = check_rows(codes, CODE_BYTES, "codes", allow_single=True)
        if isinstance(max_distance, bool) or not isinstance(max_distance, int | np.integer):
            raise ValueError(f"max_distance must be an integer, got {max_distance!r}")
        max_distance = int(max_distance)
        if not 0 <= max_distance <= CODE_BITS:
            raise ValueError(f"max_distance must be within 0..{CODE_BITS}, got {max_distance}")
        n_queries = queries.shape[0]
        if not n_queries or not len(self):
            return [[] for _ in range(n_queries)]
        words = queries.view(np.uint64)
        parts = []
        if len(self._main):
            main_words = self._codes.view(np.uint64)
            if max_distance <= TABLE_MAX_DISTANCE:
                q, rows, dist = _kernels.probe(
                    main_words,
                    self._lo,
                    self._pos,
                    self._dirs,
                    self._main.dead,
                    words,
                    max_distance,
                    LAYOUT.width,
                    _MASKS,
                    _MASK_WEIGHTS,
                )
            else:
                q, rows, dist = _kernels.scan(main_words, self._main.dead, words, max_distance)
            parts.append((q, self._main.ids[rows].astype(np.int64), dist))
        if self._delta_ids.size:
            q, rows, dist = _kernels.scan(
                self._delta_codes.view(np.uint64), self._main.dead[:0], words, max_distance
            )
            parts.append((q, self._delta_ids[rows], dist))
        return _group(parts, n_queries)

    def save(self, path: str | Path) -> None:
        """Write the index to directory ``path`` (atomically; see ``load``)."""
        arrays = {
            "codes": self._codes,
            "ids": self._main.ids,
            "lo": self._lo,
            "pos": self._pos,
            "dirs": self._dirs,
            "dead": self._main.dead,
            "delta_codes": self._delta_codes,
            "delta_ids": self._delta_ids,
        }
        meta = {"rows": len(self._main), "live": len(self), "layout": LAYOUT._asdict()}
        save_dir(path, _KIND, meta, arrays, version=SAVE_VERSION)

    @classmethod
    def load(cls, path: str | Path, *, delta_limit: int = DELTA_LIMIT) -> Self:
        """Open a saved index; the main segment is memory-mapped, so this is fast.

        Later adds and removes work: they go to the in-memory delta and tombstones, and
        the next merge writes fresh in-memory arrays (the files are never modified).
        """
        meta, arrays = load_dir(path, _KIND, _ARRAYS, version=SAVE_VERSION)
        if meta.get("layout") != LAYOUT._asdict():
            raise ValueError(
                f"{path} holds tables of layout {meta.get('layout')}, this version uses "
                f"{LAYOUT._asdict()}; delete the snapshot so it is rebuilt"
            )
        index = cls(delta_limit=delta_limit)
        index._codes = arrays["codes"]
        index._lo = arrays["lo"]
        index._pos = arrays["pos"]
        index._dirs = arrays["dirs"]
        index._main = MainIds(arrays["ids"], np.array(arrays["dead"]))
        index._delta_codes = np.array(arrays["delta_codes"])
        index._delta_ids = np.array(arrays["delta_ids"])
        return index

    def _merge(self) -> None:
        """Fold the delta into the tables and drop tombstoned rows, in linear time."""
        live = self._main.live_mask()
        old_rows = len(self._main)
        if live is None:
            remap = np.arange(old_rows, dtype=np.int64)
            kept_codes, kept_ids = self._codes, self._main.ids
        else:
            remap = np.cumsum(live, dtype=np.int64) - 1
            remap[~live] = -1
            kept_codes, kept_ids = self._codes[live], self._main.ids[live]
        m, width = LAYOUT.tables, LAYOUT.width
        new_lo = np.empty((m, self._delta_ids.shape[0]), dtype=LAYOUT.lo_dtype)
        new_rows, new_dirs = _kernels.build_tables(
            self._delta_codes.view(np.uint64), m, width, new_lo
        )
        total = kept_ids.shape[0] + self._delta_ids.shape[0]
        lo = np.empty((m, total), dtype=LAYOUT.lo_dtype)
        pos = np.empty((m, total * _pos_bytes(total)), dtype=np.uint8)
        dirs = np.empty((m, _kernels.BUCKETS + 1), dtype=np.uint32)
        _kernels.merge_tables(
            self._lo,
            self._pos,
            self._dirs,
            remap,
            new_lo,
            new_rows,
            new_dirs,
            kept_ids.shape[0],
            lo,
            pos,
            dirs,
        )
        del new_lo, new_rows
        self._lo, self._pos, self._dirs = lo, pos, dirs
        self._codes = np.concatenate([kept_codes, self._delta_codes])
        self._main = MainIds(
            narrow_ids(np.concatenate([kept_ids.astype(np.int64), self._delta_ids]))
        )
        self._delta_codes = np.zeros((0, CODE_BYTES), dtype=np.uint8)
        self._delta_ids = np.zeros(0, dtype=np.int64)


def _group(
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]], n_queries: int
) -> list[list[tuple[int, int]]]:
    """Per-query (id, distance) lists sorted by (distance, id) from flat kernel output."""
    q = np.concatenate([p[0] for p in parts])
    ids = np.concatenate([p[1] for p in parts])
    dist = np.concatenate([p[2] for p in parts])
    order = np.lexsort((ids, dist, q))
    q, ids, dist = q[order], ids[order], dist[order]
    bounds = np.searchsorted(q, np.arange(n_queries + 1))
    pairs = list(zip(ids.tolist(), dist.tolist(), strict=True))
    return [pairs[bounds[i] : bounds[i + 1]] for i in range(n_queries)]
