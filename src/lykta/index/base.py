"""The ``HashIndex`` interface that every index in Lykta follows."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, Self, runtime_checkable

import numpy as np

#: Width of the codes ``HammingIndex`` holds (256 bits), here so that the hash registry can
#: check kinds against it without loading the index and its kernels.
HAMMING_CODE_BYTES = 32


@runtime_checkable
class HashIndex(Protocol):
    """An in-memory set of (id, hash) pairs that banks fill and matching queries.

    Ids are unique among the live entries; the same hash may appear under several ids
    (different banks can hold the same hash).

    Versions: readers query a published index without any lock while one writer changes
    a private ``copy()`` of it and then publishes that by swapping a reference. After
    ``b = a.copy()``, nothing done to ``b`` (``add``, ``remove``, ``merge``) changes what
    ``a.query`` returns, and ``a.query`` is safe to run in other threads meanwhile.
    """

    #: Bytes per hash: 32 for PDQ, 16 for MD5, 32 for SHA-256.
    code_bytes: int

    def add(self, ids: np.ndarray, codes: np.ndarray) -> None:
        """Add entries in place; a duplicate id (present or repeated) raises ``ValueError``.

        Never merges: the entries wait in a delta until ``merge``.
        """
        ...

    def remove(self, ids: np.ndarray) -> int:
        """Remove entries by id in place, ignoring unknown ids; return how many were removed.

        Never merges: removed rows are tombstoned until ``merge``.
        """
        ...

    def query(self, codes: np.ndarray, max_distance: int) -> list[list[tuple[int, int]]]:
        """Per query code, the (id, distance) pairs within ``max_distance``.

        Each list is sorted by (distance, id). Exact-key indexes return distance 0 and
        ignore ``max_distance``.
        """
        ...

    def copy(self) -> Self:
        """A cheap copy (the delta and the tombstone bitmap at most) sharing the main arrays."""
        ...

    def needs_merge(self) -> bool:
        """Whether the delta or the tombstones have grown past their limits."""
        ...

    def merge(self) -> None:
        """Fold the delta in and drop tombstoned rows, in place on this private object; slow."""
        ...

    def __len__(self) -> int: ...

    def save(self, path: str | Path) -> None:
        """Write the index to directory ``path`` atomically."""
        ...

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Open an index written by ``save``, memory-mapping its large arrays."""
        ...

    @property
    def nbytes(self) -> int:
        """Bytes held by the index's arrays, to report memory per hash."""
        ...
