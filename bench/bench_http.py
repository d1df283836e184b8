"""HTTP look-up throughput and latency: `lykta serve` with N PDQ hashes in a bank, wrk (one
thread, a second process) over loopback, on Lykta's route and on HMA's, at several
connection counts, with HMA's own figure from this machine beside them.

    python bench/bench_http.py --n 1000000 10000000 --connections 8 32 --workers 2

Routes: `GET /api/v1/lookup?hash=` (native) and `GET /m/raw_lookup?signal_type=pdq&signal=`
(HMA's, what an HMA client calls). Queries: 20,000 distinct hashes, 90% random (no match:
most uploads) and 10% near neighbours of bank hashes (a match), cycled from a random offset.
The bank is imported through `lykta bank import` into a data folder that later runs reuse
(`--data-dir`); the first start builds the index snapshot, the restart maps it.

Targets (issue 5): >= 2,200 req/s on each route at 8 connections with p99 <= 25 ms (4x HMA
tuned), p99 <= 60 ms at 32 connections. Needs wrk (`apt-get install wrk`).
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

import serving

TARGET_RPS = 2_200
TARGET_P99 = {8: 25.0, 32: 60.0}


def target(connections: int) -> str:
    p99 = TARGET_P99.get(connections)
    if connections == 8:
        return f">= {TARGET_RPS:,}/s, p99 <= {p99:.0f}"
    return f"p99 <= {p99:.0f}" if p99 else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--connections", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--routes", nargs="+", choices=list(serving.ROUTES),
                        default=["native", "hma"])  # fmt: skip
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=20, help="per route and connection count")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of wrk before each run")
    parser.add_argument("--servers", nargs="+", choices=serving.SERVERS, default=["lykta"],
                        help="uvicorn: the same app under uvicorn, side by side")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=1, help="repeat every server this often")
    parser.add_argument("--data-dir", type=Path, help="prepared banks are kept here and reused",
                        default=Path(tempfile.gettempdir()) / "lykta-bench")  # fmt: skip
    args = parser.parse_args()

    for n in args.n:
        prepared = serving.prepare(args.data_dir, n)
        rows: list[Row] = []
        starts: list[str] = []
        for _ in range(args.rounds):
            for name in args.servers:
                server = serving.Server(prepared.env, args.workers, name)
                print(f"starting {name} ({args.workers} workers, {n:,} hashes); {serving.load()}")
                ready = server.start(prepared.matcher, n)
                try:
                    check(server, prepared)
                    for connections in args.connections:
                        for route in args.routes:
                            for seconds in (args.warmup, args.seconds):
                                figures = serving.wrk(server.base, serving.ROUTES[route],
                                                      prepared.matcher, prepared.queries,
                                                      connections, seconds)  # fmt: skip
                            rows.append(Row(name, route, connections, figures, serving.load()))
                    rss = server.rss_mb()
                finally:
                    server.stop()
                starts.append(f"{name}: start {ready:.1f} s, RSS after the runs {rss:,.0f} MB")
        server = serving.Server(prepared.env, args.workers)
        restart = server.start(prepared.matcher, n)
        server.stop()

        print(
            f"\nHTTP look-ups, {n:,} PDQ hashes, {args.workers} workers, wrk 1 thread in a "
            f"second process, {args.seconds} s a row (lykta = lykta serve, granian)"
        )
        print_rows(rows)
        print(
            f"HMA tuned (gunicorn 2 workers, OMP_NUM_THREADS=1), 1M hashes, this machine: "
            f"{serving.HMA_TUNED} req/s at 8 connections, p99 {serving.HMA_P99_32} ms at 32; "
            f"x HMA is against {serving.HMA_TUNED_BEST:.0f}"
        )
        print("; ".join(starts) + f"; lykta restart from the snapshot {restart:.1f} s")


@dataclass
class Row:
    server: str
    route: str
    connections: int
    figures: dict[str, float]
    load: str


def check(server: serving.Server, prepared: serving.Prepared) -> None:
    """One planted query answers with a match on both routes before the load starts."""
    headers = {"Authorization": f"Bearer {prepared.matcher}"}
    for route in serving.ROUTES.values():
        response = httpx.get(server.base + route + prepared.planted, headers=headers)
        assert response.status_code == 200 and response.json()["matches"], response.text


def print_rows(rows: list[Row]) -> None:
    columns = ("server", "route", "conns", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms",
               "non2xx/err")  # fmt: skip
    widths = (7, 7, 5, 8, 7, 7, 7, 7, 10)
    header = " ".join(f"{c:<{w}}" if i < 2 else f"{c:>{w}}" for i, (c, w) in
                      enumerate(zip(columns, widths, strict=True)))  # fmt: skip
    print(f"{header} {'x HMA':>6}  {'target':<22} load during the row")
    for row in rows:
        f = row.figures
        failed = f"{f['non2xx']:.0f}/{f['errors']:.0f}"
        cells = (
            f"{row.server:<7}", f"{row.route:<7}", f"{row.connections:>5}", f"{f['rps']:>8,.0f}",
            f"{f['p50']:>7.2f}", f"{f['p90']:>7.2f}", f"{f['p99']:>7.2f}", f"{f['max']:>7.1f}",
            f"{failed:>10}",
        )  # fmt: skip
        ratio = f["rps"] / serving.HMA_TUNED_BEST
        print(f"{' '.join(cells)} {ratio:>6.1f}  {target(row.connections):<22} {row.load}")


if __name__ == "__main__":
    main()
