"""Look-ups while a big import lands: p99 of HTTP look-ups during a 1M-hash `lykta bank
import` (and until every worker serves the new hashes) beside p99 at rest, against
`lykta serve` holding 1M PDQ hashes.

    python bench/bench_import_lookups.py --n 1000000 --import-n 1000000

wrk (one thread, a second process) sends the varied queries of bench_http.py to the native
route: first `--seconds` at rest, then from the start of the import until the server's
index holds the imported hashes too. The import runs through the CLI into a new bank on a
copy of the prepared data folder, as an operator would load a hash list.

Target (issue 5, "look-ups never wait"): p99 during the import close to p99 at rest; no
failed look-ups. Needs wrk (`apt-get install wrk`).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

import serving


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="hashes served from the start")
    parser.add_argument("--import-n", type=int, default=1_000_000, help="hashes imported")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=30, help="look-ups at rest")
    parser.add_argument("--route", choices=list(serving.ROUTES), default="native")
    parser.add_argument("--data-dir", type=Path, help="prepared banks are kept here and reused",
                        default=Path(tempfile.gettempdir()) / "lykta-bench")  # fmt: skip
    args = parser.parse_args()

    prepared = serving.prepare(args.data_dir, args.n)
    path = serving.ROUTES[args.route]
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "home"
        shutil.copytree(prepared.home, home)
        env = serving.base_env(home)
        hashes = Path(folder) / "import.txt"
        codes = np.random.default_rng(99).integers(0, 256, (args.import_n, 32), dtype=np.uint8)
        serving.write_hashes(hashes, codes)
        del codes
        serving.lykta("bank", "create", "incoming", env=env)
        server = serving.Server(env, args.workers)
        print(f"starting lykta serve ({args.workers} workers, {args.n:,} hashes); {serving.load()}")
        server.start(prepared.matcher, args.n)
        try:
            serving.wrk(server.base, path, prepared.matcher, prepared.queries, args.connections, 3)
            rest = serving.wrk(server.base, path, prepared.matcher, prepared.queries,
                               args.connections, args.seconds)  # fmt: skip
            rest_load = serving.load()
            expected = args.n + args.import_n
            started = time.perf_counter()
            # Its progress goes to a file: an unread pipe would fill up and stall it.
            log = Path(folder) / "import.log"
            importing = subprocess.Popen(
                [sys.executable, "-m", "lykta", "bank", "import", "incoming", str(hashes),
                 "--format", "text"],
                env=env, stdout=subprocess.DEVNULL, stderr=log.open("w"),
            )  # fmt: skip
            times: dict[str, float] = {}
            served = Served(server.base, prepared.matcher, expected)

            def landed() -> bool:
                if "import" not in times and importing.poll() is not None:
                    times["import"] = time.perf_counter() - started
                    if importing.returncode != 0:
                        return True
                if "import" in times and served():
                    times["served"] = time.perf_counter() - started
                    return True
                return False

            during = serving.wrk(server.base, path, prepared.matcher, prepared.queries,
                                 args.connections, 3600, stop_when=landed)  # fmt: skip
            during_load = serving.load()
            if importing.wait() != 0:
                sys.exit(f"lykta bank import failed: {log.read_text()[-2000:]}")
        finally:
            server.stop()

    print(f"\nLook-ups during a {args.import_n:,}-hash import, lykta serve --workers "
          f"{args.workers} with {args.n:,} hashes, {args.connections} connections on "
          f"{args.route}, wrk 1 thread in a second process")  # fmt: skip
    print(f"{'':<34} {'req/s':>8} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'max ms':>8} "
          f"{'non2xx/err':>10}  load")  # fmt: skip
    for label, f, load in (("at rest", rest, rest_load), ("during import until served", during,
                                                          during_load)):  # fmt: skip
        failed = f"{f['non2xx']:.0f}/{f['errors']:.0f}"
        print(f"{label:<34} {f['rps']:>8,.0f} {f['p50']:>7.2f} {f['p90']:>7.2f} {f['p99']:>7.2f} "
              f"{f['max']:>8.1f} {failed:>10}  {load}")  # fmt: skip
    imported, served = times.get("import", float("nan")), times.get("served", float("nan"))
    print(f"import took {imported:.1f} s; the server answered with all {expected:,} hashes "
          f"{served:.1f} s after it started")  # fmt: skip


class Served:
    """Whether the server reports `expected` PDQ hashes on several answers in a row (so
    most likely from every worker); asked at most twice a second."""

    def __init__(self, base: str, token: str, expected: int) -> None:
        self.base, self.expected = base, expected
        self.headers = {"Authorization": f"Bearer {token}"}
        self.in_a_row = 0
        self.asked = 0.0

    def __call__(self) -> bool:
        if time.monotonic() - self.asked < 0.5:
            return False
        self.asked = time.monotonic()
        try:
            status = httpx.get(f"{self.base}/api/v1/status", headers=self.headers, timeout=5)
            full = status.json()["index_size"]["pdq"] == self.expected
        except (httpx.HTTPError, KeyError, ValueError):
            full = False
        self.in_a_row = self.in_a_row + 1 if full else 0
        return self.in_a_row >= 6


if __name__ == "__main__":
    main()
