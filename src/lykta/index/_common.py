"""What both indexes share: input checks, the id column with its tombstones, and files.

Both indexes keep a static *main* segment (sorted, saveable, memory-mappable) and a small
in-memory *delta* of recent adds; removals of main rows set a tombstone bit. This module
owns the id side of that design so the two indexes differ only in how they search.

Versions: ``copy()`` shares every array with the original. Arrays are never written in
place once another object may see them: the delta is replaced by a new array on every
change, and the tombstone bitmap is copied before its first write after a ``copy()``.
So a published index stays valid for lock-free readers while a copy of it is changed.
"""

from __future__ import annotations

import ctypes
import json
import mmap
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_VERSION = 1
DELTA_LIMIT = 32_768
COMPACT_RATIO = 0.10
_UINT32_LIMIT = 1 << 32
#: Cache line size of x86-64 and arm64 CPUs.
CACHE_LINE = 64
#: Linux's transparent huge page size on x86-64 and arm64 (4 KiB base pages).
HUGE_PAGE = 2 << 20
# Absent off Linux; there huge pages are simply not asked for.
_MADV_HUGEPAGE = getattr(mmap, "MADV_HUGEPAGE", None)
_LIBC = ctypes.CDLL(None, use_errno=True) if _MADV_HUGEPAGE is not None else None
# Linux 5.14's MADV_POPULATE_READ, which Python's mmap module does not name before 3.13.
_MADV_POPULATE_READ = 22


def advise_huge_pages(array: np.ndarray) -> None:
    """Ask the kernel to back ``array`` with transparent huge pages (``MADV_HUGEPAGE``).

    Look-ups read the index's arrays at random, so with 4 KiB pages nearly every read
    misses the TLB; a 2 MiB page covers 512 times as much. Where THP is in ``madvise``
    mode only memory advised like this gets them, for anonymous and file-backed
    (snapshot) mappings alike; where THP is off the call changes nothing. Only whole
    2 MiB-aligned spans inside the array are advised, so smaller arrays are left alone.
    """
    if _LIBC is None or array.nbytes < HUGE_PAGE:
        return
    start = array.ctypes.data
    first = -(-start // HUGE_PAGE) * HUGE_PAGE
    last = (start + array.nbytes) // HUGE_PAGE * HUGE_PAGE
    if last > first:
        # A refusal (a kernel built without THP) only means no huge pages: not an error.
        _LIBC.madvise(ctypes.c_void_p(first), ctypes.c_size_t(last - first), _MADV_HUGEPAGE)


def aligned_empty(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """An uninitialised array starting on a 64-byte cache line.

    numpy's large arrays start 16 bytes past a page boundary (malloc's header), so every
    other 32-byte code would straddle two cache lines and cost two memory accesses when
    read at random; aligned, each code is one line.
    """
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(nbytes + CACHE_LINE, dtype=np.uint8)
    skip = -raw.ctypes.data % CACHE_LINE
    aligned: np.ndarray = raw[skip : skip + nbytes].view(dtype).reshape(shape)
    return aligned


def check_ids(ids: Any) -> np.ndarray:
    """Ids as a 1-D int64 array; any integer dtype that fits is accepted."""
    arr = np.asarray(ids)
    if arr.size == 0 and arr.dtype == np.float64:
        arr = arr.astype(np.int64)  # np.asarray([]) is float64; an empty list is fine.
    if arr.ndim != 1:
        raise ValueError(f"ids must be a 1-D array, got shape {arr.shape}")
    if arr.dtype.kind not in "iu" or not np.can_cast(arr.dtype, np.int64):
        raise ValueError(f"ids must be int64 (or a narrower integer dtype), got {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def check_rows(rows: Any, width: int, what: str, allow_single: bool) -> np.ndarray:
    """Hashes as a C-contiguous ``(n, width)`` uint8 array; a bare row if allowed."""
    arr = np.asarray(rows)
    if arr.dtype != np.uint8:
        raise ValueError(f"{what} must be uint8, got {arr.dtype}")
    if allow_single and arr.shape == (width,):
        arr = arr.reshape(1, width)
    if arr.ndim != 2 or arr.shape[1] != width:
        raise ValueError(f"{what} must have shape (n, {width}), got {arr.shape}")
    return np.ascontiguousarray(arr)


def check_unique(ids: np.ndarray) -> None:
    if ids.size < 2 or np.all(ids[1:] > ids[:-1]):
        return  # Ascending (database row ids, a bulk load): no sort needed.
    uniq, counts = np.unique(ids, return_counts=True)
    if uniq.size != ids.size:
        raise ValueError(f"id {int(uniq[counts > 1][0])} appears more than once in this call")


def narrow_ids(ids: np.ndarray) -> np.ndarray:
    """uint32 when every id fits (4 bytes per hash saved), else int64."""
    if ids.size and ids.min() >= 0 and ids.max() < _UINT32_LIMIT:
        return ids.astype(np.uint32, copy=False)
    return ids.astype(np.int64, copy=False)


class MainIds:
    """The main segment's id column in row order, its tombstones and id -> row lookup.

    Ids usually arrive ascending (database row ids), where lookup is a binary search on
    the column itself; otherwise an argsort is built on first use (4 bytes per row).
    """

    def __init__(self, ids: np.ndarray, dead: np.ndarray | None = None) -> None:
        self.ids = ids
        self.ascending = bool(ids.size < 2 or np.all(ids[1:] > ids[:-1]))
        self.dead = np.zeros(0, dtype=np.uint8) if dead is None else dead
        self.n_dead = int(np.unpackbits(self.dead).sum()) if self.dead.size else 0
        self._order: np.ndarray | None = None
        # False once another MainIds shares `dead`: the next `kill` copies it first.
        self._owns_dead = True

    def copy(self) -> MainIds:
        """A MainIds sharing every array with this one; tombstones are copied on write."""
        other = MainIds.__new__(MainIds)
        other.ids, other.ascending, other._order = self.ids, self.ascending, self._order
        other.dead, other.n_dead = self.dead, self.n_dead
        self._owns_dead = other._owns_dead = False
        return other

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @property
    def live(self) -> int:
        return len(self) - self.n_dead

    @property
    def nbytes(self) -> int:
        order = 0 if self._order is None else self._order.nbytes
        return int(self.ids.nbytes + self.dead.nbytes + order)

    def find(self, wanted: np.ndarray) -> np.ndarray:
        """Row of each wanted id among live rows, -1 where absent or removed."""
        rows = np.full(wanted.shape[0], -1, dtype=np.int64)
        if not len(self) or not wanted.size:
            return rows
        info = np.iinfo(self.ids.dtype)
        fits = (wanted >= info.min) & (wanted <= info.max)
        # Cast the needles, never the column: searchsorted would copy all of it.
        needles = wanted[fits].astype(self.ids.dtype)
        if self.ascending:
            at = np.searchsorted(self.ids, needles)
            at_clip = np.minimum(at, len(self) - 1)
            found = np.where(self.ids[at_clip] == needles, at_clip, -1)
        else:
            if self._order is None:
                order = np.argsort(self.ids, kind="stable")
                self._order = order.astype(np.uint32) if len(self) < _UINT32_LIMIT else order
            # Here, not at the top: the local-features index shares this module and needs
            # no numba (see lykta.index).
            from lykta.index import _kernels

            found = _kernels.find_unsorted(self.ids, self._order, needles)
        rows[fits] = found
        if self.n_dead:
            hit = rows >= 0
            rows[hit] = np.where(self.is_dead(rows[hit]), -1, rows[hit])
        return rows

    def is_dead(self, rows: np.ndarray) -> np.ndarray:
        if not self.dead.size:
            return np.zeros(rows.shape[0], dtype=bool)
        bits: np.ndarray = (self.dead[rows >> 3] >> (rows & 7).astype(np.uint8)) & 1
        return bits.astype(bool)

    def kill(self, rows: np.ndarray) -> None:
        """Tombstone live rows (callers pass each row once)."""
        if not rows.size:
            return
        if not self.dead.size:
            self.dead = np.zeros((len(self) + 7) // 8, dtype=np.uint8)
        elif not self._owns_dead:
            self.dead = self.dead.copy()
        self._owns_dead = True
        np.bitwise_or.at(self.dead, rows >> 3, (1 << (rows & 7)).astype(np.uint8))
        self.n_dead += int(rows.size)

    def live_mask(self) -> np.ndarray | None:
        """Boolean mask of live rows, or None when nothing is removed."""
        if not self.n_dead:
            return None
        return ~np.unpackbits(self.dead, bitorder="little", count=len(self)).astype(bool)

    def needs_compaction(self) -> bool:
        return self.n_dead > COMPACT_RATIO * len(self)


def remove_ids(
    ids: Any, main: MainIds, delta_ids: np.ndarray, delta_rows: np.ndarray
) -> tuple[int, np.ndarray, np.ndarray]:
    """Tombstone `ids` in the main segment and drop them from the delta.

    Unknown ids are ignored (change-log replays repeat). Returns how many were removed and
    the delta's remaining ids and rows.
    """
    ids = np.unique(check_ids(ids))
    rows = main.find(ids)
    rows = rows[rows >= 0]
    main.kill(rows)
    gone = np.isin(delta_ids, ids)
    removed = int(rows.size + gone.sum())
    if gone.any():
        return removed, delta_ids[~gone], delta_rows[~gone]
    return removed, delta_ids, delta_rows


def check_new_ids(ids: np.ndarray, main: MainIds, delta_ids: np.ndarray) -> None:
    """Reject ids repeated in the call or already live in the index."""
    check_unique(ids)
    present = main.find(ids) >= 0
    if delta_ids.size:
        present |= np.isin(ids, delta_ids)
    if present.any():
        raise ValueError(f"id {int(ids[present][0])} is already in the index; remove it first")


def save_dir(
    path: str | Path,
    kind: str,
    meta: dict[str, Any],
    arrays: dict[str, Any],
    *,
    version: int = FORMAT_VERSION,
) -> None:
    """Write arrays and metadata to a temporary sibling, then rename it into place.

    A reader sees the old directory or the new one, never a half-written mix.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex}")
    tmp.mkdir()
    try:
        for name, array in arrays.items():
            with open(tmp / f"{name}.npy", "wb") as f:
                np.save(f, np.asarray(array))
                f.flush()
                os.fsync(f.fileno())
        header = {"kind": kind, "version": version, **meta}
        (tmp / "meta.json").write_text(json.dumps(header, indent=2))
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex}")
            os.rename(target, old)
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def populate(array: np.ndarray) -> None:
    """Fault a memory-mapped array's pages in now (``MADV_POPULATE_READ``), reading them
    from disk if need be, so that the first look-ups after a start do not wait on page
    faults. Older kernels refuse the call; their first look-ups fault the pages in."""
    if _LIBC is None or not array.nbytes:
        return
    start = array.ctypes.data // mmap.PAGESIZE * mmap.PAGESIZE
    end = array.ctypes.data + array.nbytes
    _LIBC.madvise(ctypes.c_void_p(start), ctypes.c_size_t(end - start), _MADV_POPULATE_READ)


def load_dir(
    path: str | Path, kind: str, names: list[str], *, version: int = FORMAT_VERSION
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read metadata and memory-map the arrays of a directory written by ``save_dir``,
    asking for huge pages behind them and reading them in before this returns."""
    root = Path(path)
    meta_file = root / "meta.json"
    if not meta_file.is_file():
        raise ValueError(f"{root} is not a saved index (no meta.json)")
    meta = json.loads(meta_file.read_text())
    if meta.get("kind") != kind or meta.get("version") != version:
        raise ValueError(
            f"{root} holds a {meta.get('kind')} index, format version {meta.get('version')}; "
            f"expected {kind} version {version}: delete the snapshot so it is rebuilt"
        )
    arrays: dict[str, np.ndarray] = {}
    for name in names:
        try:
            arrays[name] = np.load(root / f"{name}.npy", mmap_mode="r")
            advise_huge_pages(arrays[name])
            populate(arrays[name])
        except ValueError:
            arrays[name] = np.load(root / f"{name}.npy")  # Empty arrays cannot be mapped.
    return meta, arrays
