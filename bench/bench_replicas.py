"""Replica propagation delay: how long after a bank write commits on one replica another
replica's look-ups return it, following the change log every LYKTA_SYNC_INTERVAL seconds.

    python bench/bench_replicas.py                      # two replicas on one SQLite file
    python bench/bench_replicas.py --database-url postgresql+psycopg://postgres@127.0.0.1/test

Docs (banks.md) promise about half a second at the default interval of 0.5 s.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from lykta.app import Lykta
from lykta.banks.items import ContentItem
from lykta.settings import load_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=20, help="writes to time")
    parser.add_argument("--sync-interval", type=float, default=0.5, help="LYKTA_SYNC_INTERVAL")
    parser.add_argument("--database-url", default="", help="empty: SQLite in a temp folder")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'lykta.db'}"
        replicas = [
            Lykta.open(
                load_settings(
                    {"home": Path(folder) / name, "database_url": url, "snapshot_index": False},
                    environ={},
                )
            )
            for name in ("writer", "reader")
        ]
        writer, reader = replicas
        for replica in replicas:
            replica.matcher.start(args.sync_interval)
        bank = f"bench-replicas-{int(time.time())}"
        writer.banks.create(bank)
        rng = np.random.default_rng(11)
        delays = []
        try:
            # The first write also pays for compiling the index kernels: not timed.
            for _ in range(args.writes + 1):
                value = rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex()
                writer.banks.add_content(bank, [ContentItem.of_hash("pdq", value)])
                committed = time.perf_counter()
                while not reader.lookup_hash("pdq", value).matches:
                    time.sleep(0.002)
                delays.append(time.perf_counter() - committed)
                # Writes land at random points of the follower's cycle.
                time.sleep(float(rng.uniform(0, args.sync_interval)))
        finally:
            writer.banks.delete(bank)
            for replica in replicas:
                replica.close()

    seconds = np.array(delays[1:])
    engine = url.split(":", 1)[0].split("+", 1)[0]
    print(
        f"replica propagation, {args.writes} writes, {engine}, "
        f"sync interval {args.sync_interval:g} s"
    )
    # A write waits at most one interval for the follower, plus the follower's own work.
    target = f"<= {args.sync_interval + 0.5:g}"
    print(f"{'what':<30} {'seconds':>10} {'target':>10}")
    print(f"{'p50':<30} {np.percentile(seconds, 50):>10.3f}")
    print(f"{'p90':<30} {np.percentile(seconds, 90):>10.3f}")
    print(f"{'max':<30} {seconds.max():>10.3f} {target:>10}")


if __name__ == "__main__":
    main()
