"""What counting for /metrics costs a hot look-up: the ASGI app answering
`GET /api/v1/lookup?hash=` in-process (no sockets), with and without the request-metrics
middleware, alternating rounds so both see the same machine.

    python bench/bench_metrics.py --rounds 7 --requests 5000

The core's look-up counter runs in both (it is inside the look-up); the difference is the
middleware: two clock reads, a status capture and three per-thread counter increments.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from lykta.api import metrics
from lykta.api.main import create_app
from lykta.app import Lykta
from lykta.auth.tokens import Scope
from lykta.settings import load_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=5000, help="per round and variant")
    args = parser.parse_args()

    with Lykta.open(load_settings({"home": Path(tempfile.mkdtemp())}, environ={})) as core:
        secret = core.tokens.create(Scope.MATCHER)[1]
        app = create_app(core, follow_changes=False)
        app.state.tokens.reload()
        with_metrics: Any = app.build_middleware_stack()
        while not isinstance(with_metrics, metrics.RequestMetrics):
            with_metrics = with_metrics.app
        variants = {"without": with_metrics.app, "with": with_metrics}
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/api/v1/lookup",
            "query_string": b"hash=" + b"a" * 64,
            "headers": [(b"authorization", f"Bearer {secret}".encode())],
        }

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b""}

        async def send(_: dict[str, Any]) -> None:
            pass

        async def run(app: Any, n: int) -> float:
            started = time.perf_counter()
            for _ in range(n):
                await app(dict(scope), receive, send)
            return (time.perf_counter() - started) / n * 1e6

        async def measure() -> dict[str, list[float]]:
            for app in variants.values():
                await run(app, 1000)  # warm up
            times: dict[str, list[float]] = {name: [] for name in variants}
            for _ in range(args.rounds):
                for name, app in variants.items():
                    times[name].append(await run(app, args.requests))
            return times

        times = asyncio.run(measure())
    for name, values in times.items():
        print(f"{name:>8} metrics: median {statistics.median(values):5.1f} µs per look-up "
              f"(rounds: {', '.join(f'{v:.1f}' for v in values)})")  # fmt: skip
    overhead = statistics.median(times["with"]) - statistics.median(times["without"])
    print(f"overhead: {overhead:+.1f} µs per look-up")


if __name__ == "__main__":
    main()
