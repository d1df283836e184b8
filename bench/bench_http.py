"""HTTP look-up throughput: `lykta serve` with N PDQ hashes in its banks, load from wrk in a
second process over loopback, GET /api/v1/lookup?hash=... with a matcher token.

    python bench/bench_http.py --n 10000000 --workers 2 --seconds 30

Queries: 90% random hashes (no match: the common case for a platform's uploads) and 10%
planted near neighbours (a match: the index, then a database read of the matched rows).
The bank is loaded with executemany straight into the schema to keep the set-up short;
the import path itself is measured by bench_import.py.

Target (issue #2): >= 2,000 requests/s with p99 <= 25 ms against 10M hashes on 2 cores.
Peer: HMA's figure from PRODUCT.md (measured elsewhere on a 2-core machine with 1M hashes:
at most 483 look-ups/s, p99 50 ms, after tuning); HMA itself is not installable here.
Needs wrk (`apt-get install wrk`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

WRK_SCRIPT = """
local hashes = {}
for line in io.lines("%(queries)s") do hashes[#hashes + 1] = line end
local i = 0
wrk.headers["Authorization"] = "Bearer %(token)s"
request = function()
  i = i %% #hashes + 1
  return wrk.format("GET", "/api/v1/lookup?hash=" .. hashes[i])
end
done = function(summary, latency, requests)
  io.write(string.format("JSON {\\"requests\\": %%d, \\"seconds\\": %%f, \\"non2xx\\": %%d, " ..
    "\\"errors\\": %%d, \\"p50\\": %%f, \\"p90\\": %%f, \\"p99\\": %%f, \\"max\\": %%f}\\n",
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
    latency.max / 1e3))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def lykta(*args: str, env: dict[str, str]) -> str:
    return subprocess.run(
        [sys.executable, "-m", "lykta", *args], env=env, check=True, capture_output=True, text=True
    ).stdout


def load_bank(home: Path, codes: np.ndarray, env: dict[str, str]) -> None:
    lykta("bank", "create", "bench", env=env)
    connection = sqlite3.connect(home / "lykta.db")
    revision = connection.execute(
        "UPDATE sync_state SET revision = revision + 1 RETURNING revision"
    ).fetchone()[0]
    bank_id = connection.execute("SELECT id FROM bank WHERE name = 'bench'").fetchone()[0]
    stamp = "2026-01-01 00:00:00.000000"
    for start in range(0, len(codes), 500_000):
        chunk = codes[start : start + 500_000]
        connection.executemany(
            "INSERT INTO bank_content (bank_id, kind, value, external_id, labels, added_at, "
            "added_by, revision) VALUES (?, 'pdq', ?, ?, '[]', ?, 'bench', ?)",
            (
                (bank_id, row.tobytes(), f"b{start + i}", stamp, revision)
                for i, row in enumerate(chunk)
            ),
        )
        print(f"  loaded {start + len(chunk):,} hashes", file=sys.stderr)
    connection.commit()
    connection.close()


def planted_queries(codes: np.ndarray, count: int, rng: np.random.Generator) -> list[str]:
    queries = []
    for _ in range(count):
        if rng.random() < 0.9:
            queries.append(rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex())
            continue
        row = codes[rng.integers(0, len(codes))].copy()
        bits = np.unpackbits(row)
        flip = rng.choice(256, size=int(rng.integers(0, 21)), replace=False)
        bits[flip] ^= 1
        queries.append(np.packbits(bits).tobytes().hex())
    return queries


def start_server(
    env: dict[str, str], base: str, headers: dict[str, str], n: int
) -> tuple[subprocess.Popen[bytes], float]:
    """Start `lykta serve`; return it and the seconds until it serves all n hashes."""
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "lykta", "serve"], env=env)
    while True:
        if server.poll() is not None:
            sys.exit("lykta serve exited")
        try:
            status = httpx.get(f"{base}/api/v1/status", headers=headers, timeout=2).json()
            if status["index_size"]["pdq"] == n:
                return server, time.perf_counter() - started
        except (httpx.HTTPError, KeyError, ValueError):
            pass
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench_http.py needs wrk: apt-get install wrk")

    rng = np.random.default_rng(11)
    codes = rng.integers(0, 256, (args.n, 32), dtype=np.uint8)
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "home"
        port = free_port()
        env = {
            **os.environ, "LYKTA_HOME": str(home), "LYKTA_PORT": str(port),
            "LYKTA_WORKERS": str(args.workers), "LYKTA_LOG_LEVEL": "warning",
        }  # fmt: skip
        env.pop("LYKTA_DATABASE_URL", None)
        print(f"loading {args.n:,} PDQ hashes ...", file=sys.stderr)
        load_bank(home, codes, env)
        created = lykta("token", "create", "--scope", "matcher", "--json", env=env)
        token = json.loads(created)["token"]
        queries = Path(folder) / "queries.txt"
        queries.write_text("\n".join(planted_queries(codes, 20_000, rng)) + "\n")
        script = Path(folder) / "lookup.lua"
        script.write_text(WRK_SCRIPT % {"queries": queries, "token": token})
        del codes

        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {token}"}
        server, ready = start_server(env, base, headers, args.n)
        try:
            first = queries.read_text().split()[0]
            sample = httpx.get(f"{base}/api/v1/lookup", params={"hash": first}, headers=headers)
            assert sample.status_code == 200, sample.text
            subprocess.run(["wrk", "-t1", f"-c{args.connections}", "-d5s", "-s", str(script), base],
                           check=True, capture_output=True)  # fmt: skip
            run = subprocess.run(
                ["wrk", "-t1", f"-c{args.connections}", f"-d{args.seconds}s", "--timeout", "5s",
                 "-s", str(script), base],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
        finally:
            server.terminate()
            server.wait(timeout=60)
        # A restart maps the index snapshot written by the first start.
        server, restart = start_server(env, base, headers, args.n)
        server.terminate()
        server.wait(timeout=60)
    figures = json.loads(re.search(r"^JSON (.*)$", run.stdout, re.M).group(1))  # type: ignore[union-attr]
    rps = figures["requests"] / figures["seconds"]
    print(f"\nHTTP look-up by hash, {args.n:,} PDQ hashes, {args.workers} worker(s), "
          f"{args.connections} connections, wrk in a second process, {args.seconds} s")  # fmt: skip
    print(f"{'':<26} {'Lykta':>12} {'target':>10} {'HMA (published, 1M)':>22}")
    print(f"{'requests/s':<26} {rps:>12,.0f} {'>= 2,000':>10} {'<= 483':>22}")
    print(f"{'p50 latency, ms':<26} {figures['p50']:>12.2f} {'':>10} {'':>22}")
    print(f"{'p90 latency, ms':<26} {figures['p90']:>12.2f} {'':>10} {'':>22}")
    print(f"{'p99 latency, ms':<26} {figures['p99']:>12.2f} {'<= 25':>10} {'50':>22}")
    print(f"{'max latency, ms':<26} {figures['max']:>12.2f} {'':>10} {'':>22}")
    print(f"{'non-2xx / socket errors':<26} {figures['non2xx']:>6} / {figures['errors']:<4}")
    print(f"{'first start, s':<26} {ready:>12.1f} {'':>10} {'138 (1M, rebuild)':>22}")
    print(f"{'restart (snapshot), s':<26} {restart:>12.1f} {'':>10} {'138 (1M, rebuild)':>22}")


if __name__ == "__main__":
    main()
