"""``ExactIndex``: which ids hold exactly a given cryptographic hash (MD5, SHA-256).

Keys live in one lexicographically sorted array searched by binary search, plus a small
sorted delta and tombstones, so ten million keys cost their own bytes and an id each,
not the ~100 bytes per entry of a Python dict.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

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

_KIND = "lykta.exact"
_ARRAYS = ["keys", "ids", "dead", "delta_keys", "delta_ids"]


class ExactIndex:
    """Exact-key lookup for ``code_bytes``-byte hashes (16 for MD5, 32 for SHA-256).

    Several ids may share a key (banks overlap); ids are unique among live entries.
    Versions work as in ``HammingIndex``: ``add``/``remove`` never merge by themselves,
    ``copy`` is cheap and isolated from later changes to either side.
    """

    def __init__(self, code_bytes: int, *, delta_limit: int = DELTA_LIMIT) -> None:
        if isinstance(code_bytes, bool) or not isinstance(code_bytes, int) or code_bytes < 1:
            raise ValueError(f"code_bytes must be a positive integer, got {code_bytes!r}")
        self.code_bytes = code_bytes
        self._words = (code_bytes + 7) // 8
        self._delta_limit = delta_limit
        self._keys = np.zeros((0, self._words), dtype=np.uint64)
        self._main = MainIds(np.zeros(0, dtype=np.uint32))
        self._delta_keys = np.zeros((0, self._words), dtype=np.uint64)
        self._delta_ids = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return self._main.live + int(self._delta_ids.shape[0])

    @property
    def nbytes(self) -> int:
        arrays = [self._keys, self._delta_keys, self._delta_ids]
        return sum(a.nbytes for a in arrays) + self._main.nbytes

    def add(self, ids: Any, keys: Any) -> None:
        """Add keys under unique ids; a duplicate id raises ``ValueError``."""
        ids = check_ids(ids)
        words = self._words_of(keys, allow_single=False)
        if ids.shape[0] != words.shape[0]:
            raise ValueError(f"got {ids.shape[0]} ids for {words.shape[0]} keys")
        if not ids.size:
            return
        check_new_ids(ids, self._main, self._delta_ids)
        keys_all = np.concatenate([self._delta_keys, words])
        ids_all = np.concatenate([self._delta_ids, ids])
        order = np.lexsort(keys_all.T[::-1])
        self._delta_keys, self._delta_ids = keys_all[order], ids_all[order]

    def remove(self, ids: Any) -> int:
        """Remove ids, ignoring unknown ones (change-log replays repeat); return the count."""
        removed, self._delta_ids, self._delta_keys = remove_ids(
            ids, self._main, self._delta_ids, self._delta_keys
        )
        return removed

    def needs_merge(self) -> bool:
        """Whether the delta or the tombstones have grown past their limits."""
        return self._delta_ids.shape[0] > self._delta_limit or self._main.needs_compaction()

    def copy(self) -> Self:
        """An index sharing this one's arrays; changes to either never reach the other."""
        other = type(self).__new__(type(self))
        other.__dict__.update(self.__dict__)
        other._main = self._main.copy()
        return other

    def query(self, keys: Any, max_distance: int = 0) -> list[list[tuple[int, int]]]:
        """For each key, ``(id, 0)`` for the ids holding exactly that key, ids ascending.

        ``max_distance`` is accepted for a common interface with ``HammingIndex`` and
        ignored: a cryptographic hash matches exactly or not at all. A single
        ``(code_bytes,)`` row is one query. Safe to call from many threads, also while a
        ``copy`` of this index changes.
        """
        queries = self._words_of(keys, allow_single=True)
        found: list[list[int]] = [[] for _ in range(queries.shape[0])]
        if not queries.shape[0] or not len(self):
            return [[] for _ in found]
        main = self._main
        for keys_sorted, ids, is_main in (
            (self._keys, main.ids, True),
            (self._delta_keys, self._delta_ids, False),
        ):
            if not ids.shape[0]:
                continue
            first, last = _kernels.key_ranges(keys_sorted, queries)
            for q in np.nonzero(last > first)[0]:
                rows = np.arange(first[q], last[q])
                if is_main and main.n_dead:
                    rows = rows[~main.is_dead(rows)]
                found[q].extend(ids[rows].tolist())
        return [[(i, 0) for i in sorted(ids)] for ids in found]

    def save(self, path: str | Path) -> None:
        """Write the index to directory ``path`` (atomically; see ``load``)."""
        arrays = {
            "keys": self._keys,
            "ids": self._main.ids,
            "dead": self._main.dead,
            "delta_keys": self._delta_keys,
            "delta_ids": self._delta_ids,
        }
        # Stored as "key_bytes", its name in format version 1, so older snapshots still load.
        meta = {"key_bytes": self.code_bytes, "rows": len(self._main), "live": len(self)}
        save_dir(path, _KIND, meta, arrays)

    @classmethod
    def load(cls, path: str | Path, *, delta_limit: int = DELTA_LIMIT) -> Self:
        """Open a saved index, memory-mapping the main segment; adds and removes still work."""
        meta, arrays = load_dir(path, _KIND, _ARRAYS)
        index = cls(int(meta["key_bytes"]), delta_limit=delta_limit)
        index._keys = arrays["keys"]
        index._main = MainIds(arrays["ids"], np.array(arrays["dead"]))
        index._delta_keys = np.array(arrays["delta_keys"])
        index._delta_ids = np.array(arrays["delta_ids"])
        return index

    def _words_of(self, keys: Any, allow_single: bool) -> np.ndarray:
        """Keys as ``(n, words)`` uint64, zero-padded: any fixed total order will do."""
        rows = check_rows(keys, self.code_bytes, "keys", allow_single)
        padded = np.zeros((rows.shape[0], self._words * 8), dtype=np.uint8)
        padded[:, : self.code_bytes] = rows
        return padded.view(np.uint64)

    def merge(self) -> None:
        """Fold the sorted delta into the sorted main array and drop tombstoned rows.

        Writes new arrays and swaps them in, so copies sharing the old ones are unaffected.
        """
        live = self._main.live_mask()
        keys, ids = self._keys, self._main.ids
        if live is not None:
            keys, ids = keys[live], ids[live]
        order = _kernels.merge_order(keys, self._delta_keys)
        self._keys = np.concatenate([keys, self._delta_keys])[order]
        all_ids = np.concatenate([ids.astype(np.int64), self._delta_ids])[order]
        self._main = MainIds(narrow_ids(all_ids))
        self._delta_keys = np.zeros((0, self._words), dtype=np.uint64)
        self._delta_ids = np.zeros(0, dtype=np.int64)
