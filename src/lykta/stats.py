"""Counters that the look-up path can bump for almost nothing, read when /metrics asks.

Each thread counts into a dict of its own, so an increment takes no lock and no two
threads ever write the same dict; a reader sums copies of them all (a dict copy is atomic
under the GIL). Counts of threads that have ended stay in the sum, as counters must.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable


class Tally:
    def __init__(self) -> None:
        self._local = threading.local()
        self._all: list[dict[Hashable, float]] = []

    def add(self, key: Hashable, amount: float = 1) -> None:
        counts: dict[Hashable, float] | None = getattr(self._local, "counts", None)
        if counts is None:
            counts = self._local.counts = {}
            self._all.append(counts)  # list.append is atomic
        counts[key] = counts.get(key, 0) + amount

    def totals(self) -> dict[Hashable, float]:
        total: dict[Hashable, float] = {}
        for counts in list(self._all):
            for key, value in counts.copy().items():
                total[key] = total.get(key, 0) + value
        return total
