"""Per-thread counters: no increment is lost however many threads count at once."""

from __future__ import annotations

import threading

from lykta.stats import Tally


def test_counts_from_many_threads_add_up() -> None:
    tally = Tally()

    def count() -> None:
        for _ in range(20_000):
            tally.add("lookups")
            tally.add(("seconds", "/x"), 0.5)

    threads = [threading.Thread(target=count) for _ in range(8)]
    for thread in threads:
        thread.start()
    tally.totals()  # reading while they count is safe
    for thread in threads:
        thread.join()
    assert tally.totals() == {"lookups": 160_000, ("seconds", "/x"): 80_000.0}
