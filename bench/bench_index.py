"""Benchmark Lykta's HammingIndex against python-threatexchange's PDQIndex (HMA's default).

Each peer runs in its own fresh subprocess, so its memory is the RSS it grew by while
building (inputs freed), not a number it reports about itself. The parent process checks
every peer's answers on a sample of queries against a numpy brute-force scan.

    .venv/bin/python bench/bench_index.py --n 1000000
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

TARGETS = {"p50": 0.5, "p99": 5.0, "build": 30.0, "bytes": 64.0}
#: Query hashes per search call in the batch row: the matcher sends up to 16 per photo.
BATCH = 16


def make_data(n: int, queries: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random codes with 1% planted near-duplicates, and queries: half near, half random."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    planted = n // 100
    if planted:
        sources = rng.integers(0, n - planted, planted)
        codes[n - planted :] = _flip(rng, codes[sources], 31)
    near = queries // 2
    picks = rng.integers(0, n, near)
    query_codes = np.concatenate(
        [_flip(rng, codes[picks], 31), rng.integers(0, 256, (queries - near, 32), dtype=np.uint8)]
    )
    return codes, query_codes


def _flip(rng: np.random.Generator, codes: np.ndarray, max_bits: int) -> np.ndarray:
    """Copies of ``codes`` with 0..max_bits distinct random bits flipped in each."""
    out = codes.copy()
    bits = np.unpackbits(out, axis=1)
    for row, k in enumerate(rng.integers(0, max_bits + 1, out.shape[0])):
        flip = rng.choice(256, k, replace=False)
        bits[row, flip] ^= 1
    return np.packbits(bits, axis=1)


def _rss() -> int:
    """Resident bytes after handing freed heap pages back, so only live data counts."""
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _percentiles(seconds: list[float]) -> tuple[float, float]:
    ms = np.asarray(seconds) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def run_lykta(n: int, n_queries: int, distance: int, seed: int, check: int) -> dict[str, Any]:
    from lykta.index import HammingIndex

    warm = HammingIndex(delta_limit=0)  # JIT-cached kernels load here, outside the RSS delta.
    warm.add(np.arange(2), np.zeros((2, 32), dtype=np.uint8))
    warm.query(np.zeros(32, dtype=np.uint8), distance)
    del warm
    gc.collect()
    base = _rss()
    codes, queries = make_data(n, n_queries, seed)
    start = time.perf_counter()
    index = HammingIndex()
    index.add(np.arange(n, dtype=np.int64), codes)
    index.merge()
    build = time.perf_counter() - start
    del codes
    gc.collect()
    grown = _rss() - base - queries.nbytes
    times, answers = [], []
    for q in queries:
        t0 = time.perf_counter()
        found = index.query(q, distance)[0]
        times.append(time.perf_counter() - t0)
        answers.append(found)
    p50, p99 = _percentiles(times)
    batched = []
    for i in range(0, len(queries), BATCH):
        t0 = time.perf_counter()
        index.query(queries[i : i + BATCH], distance)
        batched.append((time.perf_counter() - t0) / BATCH)
    return {
        "build": build,
        "rss_bytes": grown / n,
        "nbytes": index.nbytes / n,
        "batch": _percentiles(batched)[0],
        "p50": p50,
        "p99": p99,
        "answers": answers[:check],
    }


def run_pdq(n: int, n_queries: int, distance: int, seed: int, check: int) -> dict[str, Any]:
    import faiss
    from threatexchange.signal_type.pdq.pdq_index import PDQIndex

    faiss.omp_set_num_threads(1)
    base = _rss()
    codes, queries = make_data(n, n_queries, seed)
    entries = [(row.tobytes().hex(), i) for i, row in enumerate(codes)]
    del codes
    gc.collect()
    start = time.perf_counter()
    index = PDQIndex.build(entries)
    build = time.perf_counter() - start
    del entries
    gc.collect()
    grown = _rss() - base - queries.nbytes
    hexes = [q.tobytes().hex() for q in queries]
    times, answers = [], []
    for h in hexes:
        t0 = time.perf_counter()
        found = index.query(h)
        times.append(time.perf_counter() - t0)
        answers.append(sorted((m.metadata, m.similarity_info.distance) for m in found))
    p50, p99 = _percentiles(times)
    batched = []  # PDQIndex takes one hash per call: a batch is a loop.
    for i in range(0, len(hexes), BATCH):
        t0 = time.perf_counter()
        for h in hexes[i : i + BATCH]:
            index.query(h)
        batched.append((time.perf_counter() - t0) / BATCH)
    return {
        "build": build,
        "rss_bytes": grown / n,
        "nbytes": None,
        "batch": _percentiles(batched)[0],
        "p50": p50,
        "p99": p99,
        "answers": answers[:check],
    }


def brute_force(codes: np.ndarray, queries: np.ndarray, distance: int) -> list[list[list[int]]]:
    words = codes.view(np.uint64)
    out = []
    for q in queries.view(np.uint64):
        dist = np.bitwise_count(words ^ q).sum(axis=1)
        rows = np.nonzero(dist <= distance)[0]
        out.append(sorted([int(r), int(dist[r])] for r in rows))
    return out


def run_worker(peer: str, args: argparse.Namespace, n: int) -> dict[str, Any]:
    """Run one peer in a fresh single-threaded interpreter and read its JSON result."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        cmd = [sys.executable, __file__, "--worker", peer, "--n", str(n), "--out", out.name]
        cmd += ["--queries", str(args.queries), "--distance", str(args.distance)]
        cmd += ["--seed", str(args.seed), "--check", str(args.check)]
        subprocess.run(cmd, check=True, env=env)
        return json.loads(Path(out.name).read_text())


def mismatches(answers: list[list[list[int]]], reference: list[list[list[int]]]) -> str:
    bad = sum(sorted(map(list, a)) != r for a, r in zip(answers, reference, strict=False))
    missed = sum(
        len({tuple(x) for x in r} - {tuple(x) for x in a})
        for a, r in zip(answers, reference, strict=False)
    )
    return f"{bad}/{len(answers)} q, {missed} missed"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--distance", type=int, default=31)
    parser.add_argument("--peer", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--peer-n", type=int, default=None, help="run the peer at this n")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--check", type=int, default=100, help="queries checked by brute force")
    parser.add_argument("--worker", choices=["lykta", "pdq"], help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        runner = run_lykta if args.worker == "lykta" else run_pdq
        result = runner(args.n, args.queries, args.distance, args.seed, args.check)
        Path(args.out).write_text(json.dumps(result))
        return

    rows: dict[str, dict[str, Any]] = {"lykta": run_worker("lykta", args, args.n)}
    sizes = {"lykta": args.n}
    peer_n = args.peer_n or args.n
    if args.peer:
        rows["pdq"] = run_worker("pdq", args, peer_n)
        sizes["pdq"] = peer_n
    for peer, result in rows.items():
        codes, queries = make_data(sizes[peer], args.queries, args.seed)
        reference = brute_force(codes, queries[: args.check], args.distance)
        result["check"] = mismatches(result["answers"], reference)
        del codes

    def cell(value: Any, fmt: str) -> str:
        return "-" if value is None else format(value, fmt)

    print(f"\nHamming index benchmark, distance {args.distance}, {args.queries} queries")
    print("(half near-duplicates of indexed codes, half random), single-threaded\n")
    header = f"{'metric':<28}" + "".join(f"{name:>22}" for name in rows) + f"{'target':>12}"
    print(header)
    print("-" * len(header))
    table = [
        ("hashes indexed", lambda r, p: f"{sizes[p]:,}", ""),
        ("build (s)", lambda r, p: cell(r["build"], ".1f"), f"<= {TARGETS['build']:.0f}"),
        ("bytes/hash (RSS growth)", lambda r, p: cell(r["rss_bytes"], ".1f"), "<= 64"),
        ("bytes/hash (nbytes)", lambda r, p: cell(r["nbytes"], ".1f"), "<= 64"),
        ("lookup p50 (ms)", lambda r, p: cell(r["p50"], ".3f"), f"<= {TARGETS['p50']}"),
        ("lookup p99 (ms)", lambda r, p: cell(r["p99"], ".3f"), f"<= {TARGETS['p99']:.0f}"),
        (f"batch of {BATCH}, p50/query (ms)", lambda r, p: cell(r["batch"], ".3f"), ""),
        (f"vs brute force ({args.check} q)", lambda r, p: r["check"], "0 differ"),
    ]
    for label, value, target in table:
        line = f"{label:<28}" + "".join(f"{value(r, p):>22}" for p, r in rows.items())
        print(line + f"{target:>12}")


if __name__ == "__main__":
    main()
