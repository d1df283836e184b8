"""Look-ups right after a start: a core opened on the HTTP benchmarks' data folder (the
index mapped from its snapshot, nothing looked up yet), the first pass over the varied
queries (cold) and a second pass over the same ones (warm), in one process, no HTTP.

    python bench/bench_cold_lookups.py --n 1000000

Prints, per pass, the SQL statements the look-ups ran (issue 5: none; the owner cache this
replaced read one per matching look-up until it was warm) and the look-up's wall and CPU
time. CPU time is the calling thread's, so it holds up on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import event

import serving


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=4_000)
    parser.add_argument("--data-dir", type=Path, help="the HTTP benchmarks' data folders",
                        default=Path(tempfile.gettempdir()) / "lykta-bench")  # fmt: skip
    args = parser.parse_args()
    prepared = serving.prepare(args.data_dir, args.n)
    os.environ.update({"LYKTA_HOME": str(prepared.home), "LYKTA_LOG_LEVEL": "warning"})
    from lykta.app import Lykta
    from lykta.settings import load_settings

    core = Lykta.open(load_settings())
    try:
        core.matcher.sync()
        queries = prepared.queries.read_text().split()[: args.queries]
        statements: list[str] = []
        event.listen(core.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        print(f"{args.n:,} PDQ hashes, {len(queries):,} varied queries; {serving.load()}")
        for label in ("cold", "warm"):
            statements.clear()
            wall, cpu, matched = [], [], 0
            for query in queries:
                t0, c0 = time.perf_counter(), time.thread_time()
                found = core.lookup_hash("pdq", query)
                wall.append(time.perf_counter() - t0)
                cpu.append(time.thread_time() - c0)
                matched += bool(found.matches)
            w, c = np.array(wall) * 1000, np.array(cpu) * 1000
            print(
                f"{label}: {matched} matching, SQL statements {len(statements)}; wall p50 "
                f"{np.percentile(w, 50):.3f} ms, p99 {np.percentile(w, 99):.3f} ms; CPU mean "
                f"{c.mean():.3f} ms, p99 {np.percentile(c, 99):.3f} ms"
            )
    finally:
        core.close()


if __name__ == "__main__":
    main()
