"""``HammingIndex``: exact Hamming-distance search over 256-bit codes (PDQ).

Exactness is the contract: ``query`` returns what a brute-force scan returns, for every
distance 0..256. Up to ``TABLE_MAX_DISTANCE`` it runs a pigeonhole multi-index search
over substring tables shaped by ``LAYOUT``; above that it scans every code. See
``docs/index.md``.
"""

from __future__ import annotations

from functools import cache
from itertools import combinations
from pathlib import Path
from typing import Any, NamedTuple, Self

import numpy as np

from lykta.index import _kernels
from lykta.index._common import (
    DELTA_LIMIT,
    MainIds,
    advise_huge_pages,
    aligned_empty,
    check_ids,
    check_new_ids,
    check_rows,
    load_dir,
    narrow_ids,
    remove_ids,
    save_dir,
)
from lykta.index.base import HAMMING_CODE_BYTES

CODE_BYTES = HAMMING_CODE_BYTES
CODE_BITS = 256


class Layout(NamedTuple):
    """Shape of the substring tables: ``tables`` disjoint substrings of ``width`` bits.

    Each table answers substring distances up to ``radius``, so by pigeonhole the tables
    are exact for every distance below ``tables * (radius + 1)``. The top ``D`` bits of a
    substring index a directory, the other ``width - D`` (at most 8) are stored per
    entry; ``D`` depends on the row count (``dir_bits``).
    """

    tables: int
    width: int
    radius: int

    @property
    def max_distance(self) -> int:
        return self.tables * (self.radius + 1) - 1


#: Eleven 23-bit substrings (bits 253..255 are left out; pigeonhole does not need them).
LAYOUT = Layout(tables=11, width=23, radius=2)
#: Largest distance the substring tables answer; beyond it, queries scan all codes.
TABLE_MAX_DISTANCE = LAYOUT.max_distance
#: Narrowest directory: 65,537 offsets per table, with 7 bits of each key stored as `lo`.
MIN_DIR_BITS = 16
#: Widest directory that still stores part of the key in `lo`: 2**18 offsets per table.
MAX_SPLIT_DIR_BITS = 18
#: Average rows per directory entry past which the directory doubles (up to
#: MAX_SPLIT_DIR_BITS): every probe scans its entry's rows, which at 10M rows and 16 bits
#: are about 150, and a wider directory costs only 4 bytes an entry per table.
BUCKET_ROWS = 64
#: Version of the saved files; older snapshots are refused (the app rebuilds them).
SAVE_VERSION = 3

_KIND = "lykta.hamming"
_ARRAYS = ["codes", "ids", "lo", "pos", "dirs", "dead", "delta_codes", "delta_ids"]


def dir_bits(rows: int) -> int:
    """Directory width for ``rows`` rows.

    A directory of ``2**16`` to ``2**18`` entries needs a 1-byte ``lo`` per row, and widens
    while its entries average more than ``BUCKET_ROWS`` rows (18 bits at 10M rows: 1.2
    bytes a row more, look-ups scan a quarter of the rows). A directory over the whole
    23-bit substring (4 bytes x 8.4M offsets) needs no ``lo``, and is smaller above 33.5M
    rows.
    """
    if rows > 4 << LAYOUT.width:
        return LAYOUT.width
    bits = MIN_DIR_BITS
    while bits < MAX_SPLIT_DIR_BITS and rows >> bits > BUCKET_ROWS:
        bits += 1
    return bits


def pos_bits(rows: int) -> int:
    """Bits per packed row position: 24 at 10M rows, 27 at 100M."""
    return max(1, (rows - 1).bit_length())


@cache
def _masks(bits: int, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """All ``bits``-bit masks of weight <= radius, lightest first: each radius a prefix."""
    masks = [
        sum(1 << b for b in c) for w in range(radius + 1) for c in combinations(range(bits), w)
    ]
    weights = [w for w in range(radius + 1) for _ in combinations(range(bits), w)]
    return np.array(masks, dtype=np.int64), np.array(weights, dtype=np.int64)


def _empty_tables(rows: int, bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """New tables, advised onto huge pages before anything is written to them."""
    m = LAYOUT.tables
    lo_bits = LAYOUT.width - bits
    lo = np.empty((m, rows if lo_bits else 0), dtype=np.uint8)
    pos = np.zeros((m, (rows * pos_bits(rows) + 63) // 64 + 1), dtype=np.uint64)
    dirs = np.zeros((m, (1 << bits) + 1), dtype=np.uint32)
    for table in (lo, pos, dirs):
        advise_huge_pages(table)
    return lo, pos, dirs


class HammingIndex:
    """Exact radius search over 256-bit codes with incremental adds and removes.

    ``add`` and ``remove`` never reorganise the tables: adds go to a *delta* scanned by
    brute force, removals set tombstones. ``needs_merge`` says when the delta (past
    ``delta_limit`` codes) or the tombstones (past 10% of the rows) cost too much, and
    ``merge`` folds them in. ``copy`` is cheap and isolated from later changes, so a
    writer can change and merge a copy while readers keep querying the original.
    """

    code_bytes = CODE_BYTES

    def __init__(self, *, delta_limit: int = DELTA_LIMIT) -> None:
        self._delta_limit = delta_limit
        self._codes = np.zeros((0, CODE_BYTES), dtype=np.uint8)
        self._main = MainIds(np.zeros(0, dtype=np.uint32))
        self._lo, self._pos, self._dirs = _empty_tables(0, MIN_DIR_BITS)
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

    @property
    def _dir_bits(self) -> int:
        return int(self._dirs.shape[1] - 1).bit_length() - 1

    def copy(self) -> Self:
        """An index sharing this one's arrays; changes to either never reach the other.

        Costs O(1): nothing is copied until the copy's first removal, which copies the
        tombstone bitmap (n / 8 bytes); adds build a new delta array.
        """
        other = type(self).__new__(type(self))
        other.__dict__.update(self.__dict__)
        other._main = self._main.copy()
        return other

    def add(self, ids: Any, codes: Any) -> None:
        """Add codes under unique ids (to the delta); a duplicate id raises ``ValueError``."""
        ids = check_ids(ids)
        codes = check_rows(codes, CODE_BYTES, "codes", allow_single=False)
        if ids.shape[0] != codes.shape[0]:
            raise ValueError(f"got {ids.shape[0]} ids for {codes.shape[0]} codes")
        if not ids.size:
            return
        check_new_ids(ids, self._main, self._delta_ids)
        self._delta_ids = np.concatenate([self._delta_ids, ids])
        # Aligned, because a bulk load's merge keeps this array as the main codes.
        delta_codes = aligned_empty(
            (self._delta_codes.shape[0] + codes.shape[0], CODE_BYTES), np.uint8
        )
        self._delta_codes = np.concatenate([self._delta_codes, codes], out=delta_codes)

    def remove(self, ids: Any) -> int:
        """Remove ids, ignoring unknown ones (change-log replays repeat); return the count."""
        removed, self._delta_ids, self._delta_codes = remove_ids(
            ids, self._main, self._delta_ids, self._delta_codes
        )
        return removed

    def needs_merge(self) -> bool:
        """Whether the delta or the tombstones have grown past their limits."""
        return self._delta_ids.shape[0] > self._delta_limit or self._main.needs_compaction()

    def query(self, codes: Any, max_distance: int) -> list[list[tuple[int, int]]]:
        """For each query code, the (id, distance) pairs within ``max_distance``.

        Each list is sorted by (distance, id). A single ``(32,)`` code is one query.
        Safe to call from many threads, also while a ``copy`` of this index changes.
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
        main, parts = self._main, []
        if len(main):
            main_words = self._codes.view(np.uint64)
            if max_distance <= TABLE_MAX_DISTANCE:
                masks, weights = _masks(self._dir_bits, LAYOUT.radius)
                q, rows, dist = _kernels.probe(
                    main_words,
                    self._lo,
                    self._pos,
                    pos_bits(len(main)),
                    self._dirs,
                    main.dead,
                    words,
                    max_distance,
                    LAYOUT.width,
                    LAYOUT.width - self._dir_bits,
                    masks,
                    weights,
                )
            else:
                q, rows, dist = _kernels.scan(main_words, main.dead, words, max_distance)
            parts.append((q, main.ids[rows].astype(np.int64), dist))
        delta_ids, delta_codes = self._delta_ids, self._delta_codes
        if delta_ids.size:
            q, rows, dist = _kernels.scan(
                delta_codes.view(np.uint64), main.dead[:0], words, max_distance
            )
            parts.append((q, delta_ids[rows], dist))
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

    def merge(self) -> None:
        """Fold the delta into the tables and drop tombstoned rows, in linear time.

        Writes new arrays and swaps them in, so copies sharing the old ones are unaffected.
        """
        live = self._main.live_mask()
        delta_ids, delta_codes = self._delta_ids, self._delta_codes
        if live is None and not delta_ids.size:
            return
        old_rows = len(self._main)
        if live is None:
            remap = np.arange(old_rows, dtype=np.int64)
            kept_codes, kept_ids = self._codes, self._main.ids
        else:
            remap = np.cumsum(live, dtype=np.int64) - 1
            remap[~live] = -1
            kept_codes, kept_ids = self._codes[live], self._main.ids[live]
        kept = kept_ids.shape[0]
        total = kept + delta_ids.shape[0]
        if kept:
            codes = aligned_empty((total, CODE_BYTES), np.uint8)
            advise_huge_pages(codes)  # before the copy faults its pages in
            np.concatenate([kept_codes, delta_codes], out=codes)
            ids = np.concatenate([kept_ids.astype(np.int64), delta_ids])
        else:
            codes, ids = delta_codes, delta_ids  # A bulk load: no second copy of the codes.
            advise_huge_pages(codes)
        del kept_codes, kept_ids
        bits = dir_bits(total)
        # Old tables are reused unless the directory width changes with the size.
        reuse = kept > 0 and bits == self._dir_bits
        new_start = kept if reuse else 0
        lo, pos, dirs = _empty_tables(total, bits)
        old_bits = pos_bits(old_rows)
        words = codes.view(np.uint64)
        for t in range(LAYOUT.tables):
            keys = _kernels.table_keys(words, new_start, t, LAYOUT.width)
            order = _kernels.sort_by_key(keys, LAYOUT.width)
            old = (self._lo[t], self._pos[t], self._dirs[t]) if reuse else _NO_TABLE
            _kernels.merge_table(
                old[0],
                old[1],
                old_bits,
                old[2],
                remap,
                keys,
                order,
                new_start,
                LAYOUT.width - bits,
                lo[t],
                pos[t],
                pos_bits(total),
                dirs[t],
            )
            del keys, order
        self._lo, self._pos, self._dirs = lo, pos, dirs
        self._codes = codes
        self._main = MainIds(narrow_ids(ids))
        self._delta_codes = np.zeros((0, CODE_BYTES), dtype=np.uint8)
        self._delta_ids = np.zeros(0, dtype=np.int64)


_NO_TABLE = (
    np.zeros(0, dtype=np.uint8),
    np.zeros(1, dtype=np.uint64),
    np.zeros(0, dtype=np.uint32),
)


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
