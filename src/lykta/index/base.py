"""The ``HashIndex`` interface that every index in Lykta follows."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, Self, runtime_checkable

import numpy as np


@runtime_checkable
class HashIndex(Protocol):
    """An in-memory set of (id, hash) pairs that banks fill and matching queries.

    Ids are unique among the live entries; the same hash may appear under several ids
    (different banks can hold the same hash).

    Readers never wait on writers: a writer changes a ``copy()`` and publishes it, and a
    copy's changes (add, remove, merge) never alter what the original's ``query`` returns,
    so queries may run on the original from other threads meanwhile.
    """

    def add(self, ids: np.ndarray, codes: np.ndarray) -> None:
        """Add entries; a duplicate id (present or repeated) raises ``ValueError``."""
        ...

    def remove(self, ids: np.ndarray) -> int:
        """Remove entries by id, ignoring unknown ids; return how many were removed."""
        ...

    def query(self, codes: np.ndarray, max_distance: int) -> list[list[tuple[int, int]]]:
        """For each query code, the (id, distance) pairs within ``max_distance``, sorted by
        (distance, id). Exact indexes answer distance 0 and ignore ``max_distance``."""
        ...

    def copy(self) -> Self:
        """A twin sharing the large immutable arrays, cheap to make, safe to change."""
        ...

    def needs_merge(self) -> bool:
        """Whether recent changes have grown enough that ``merge`` should run."""
        ...

    def merge(self) -> None:
        """Fold recent changes into the main structures (slow; run it on a copy)."""
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
