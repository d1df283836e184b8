"""Benchmark Lykta's HammingIndex against python-threatexchange's PDQIndex (HMA's default).

Each peer runs in its own fresh subprocess, so its memory is the RSS it grew by while
building (inputs freed), not a number it reports about itself. The parent process checks
every peer's answers on a sample of queries against a numpy brute-force scan.

    .venv/bin/python bench/bench_index.py --n 10000000
    .venv/bin/python bench/bench_index.py --n 100000000   # ~14 GB peak, ~15 min
    .venv/bin/python bench/bench_index.py --n 2000000 --no-peer --snapshot

With ``--snapshot`` Lykta's index is saved, dropped from the page cache and loaded back
(memory-mapped), then searched once untimed before the look-ups: what ``lykta serve``
searches after a restart, once its pages are read in.

Targets depend on the size (issue 5): video frames multiply bank sizes, so 100M hashes
get looser latency targets than 10M. The peer runs at the largest n it fits in (below).
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

import numba
import numpy as np

#: Targets (build s, bytes/hash, lookup ms) by the smallest n they apply from.
TARGETS = {
    0: {"p50": 0.5, "p99": 5.0, "build": 30.0, "bytes": 64.0},
    50_000_000: {"p50": 1.5, "p99": 10.0, "build": 300.0, "bytes": 64.0},
}
#: PDQIndex grows ~635 B/hash (measured at 10M) and its build holds ~300 B/hash more of
#: Python inputs: 10M is the largest size whose build fits the 14 GB this benchmark may
#: use on a 24 GiB machine (20M would need ~19 GB).
PEER_MAX_N = 10_000_000
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
    for start in range(0, out.shape[0], 1 << 16):
        block = out[start : start + (1 << 16)]
        k = rng.integers(0, max_bits + 1, block.shape[0])
        # The first k bits of a random permutation of the 256: k distinct random bits.
        order = rng.random((block.shape[0], 256), dtype=np.float32).argsort(axis=1)
        flip = np.zeros((block.shape[0], 256), dtype=np.uint8)
        np.put_along_axis(flip, order, np.arange(256) < k[:, None], axis=1)
        block[:] = np.packbits(np.unpackbits(block, axis=1) ^ flip, axis=1)
    return out


def _rss() -> int:
    """Resident bytes after handing freed heap pages back, so only live data counts."""
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _percentiles(seconds: list[float]) -> tuple[float, float]:
    ms = np.asarray(seconds) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def reload_cold(index: Any, folder: str) -> Any:
    """``index`` saved to ``folder`` and loaded back, its files dropped from the page cache
    first, so the look-ups read them as after a restart."""
    index.save(Path(folder) / "index")
    for path in (Path(folder) / "index").iterdir():
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    return type(index).load(Path(folder) / "index")


def run_lykta(
    n: int, n_queries: int, distance: int, seed: int, check: int, snapshot: bool = False
) -> dict[str, Any]:
    from lykta.index import HammingIndex

    warm = HammingIndex()  # JIT-cached kernels load here, outside the RSS delta.
    warm.add(np.arange(2), np.zeros((2, 32), dtype=np.uint8))
    warm.merge()
    warm.query(np.zeros(32, dtype=np.uint8), distance)
    del warm
    gc.collect()
    base = _rss()
    codes, queries = make_data(n, n_queries, seed)
    start, start_cpu = time.perf_counter(), time.process_time()
    index = HammingIndex()
    index.add(np.arange(n, dtype=np.int64), codes)
    del codes  # The index holds its own copy; dropping this one keeps the peak down.
    index.merge()
    build, build_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    gc.collect()
    grown = _rss() - base - queries.nbytes
    folder = tempfile.TemporaryDirectory(prefix="bench-index-")
    if snapshot:
        index = reload_cold(index, folder.name)
        # One untimed pass reads the pages in: the timed one shows the mapped index as a
        # server has it once warm (how it maps the pages), not the disk.
        index.query(queries, distance)
    times, cpu_times, answers = [], [], []
    for q in queries:
        t0, c0 = time.perf_counter(), time.thread_time()
        found = index.query(q, distance)[0]
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.thread_time() - c0)
        answers.append(found)
    p50, p99 = _percentiles(times)
    cpu_p50, cpu_p99 = _percentiles(cpu_times)
    batched = []
    for i in range(0, len(queries), BATCH):
        t0 = time.perf_counter()
        index.query(queries[i : i + BATCH], distance)
        batched.append((time.perf_counter() - t0) / BATCH)
    nbytes = index.nbytes / n
    del index
    folder.cleanup()
    return {
        "build": build,
        "build_cpu": build_cpu,
        "rss_bytes": grown / n,
        "nbytes": nbytes,
        "batch": _percentiles(batched)[0],
        "p50": p50,
        "p99": p99,
        "cpu_p50": cpu_p50,
        "cpu_p99": cpu_p99,
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
    start, start_cpu = time.perf_counter(), time.process_time()
    index = PDQIndex.build(entries)
    build, build_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    del entries
    gc.collect()
    grown = _rss() - base - queries.nbytes
    hexes = [q.tobytes().hex() for q in queries]
    times, cpu_times, answers = [], [], []
    for h in hexes:
        t0, c0 = time.perf_counter(), time.thread_time()
        found = index.query(h)
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.thread_time() - c0)
        answers.append(sorted((m.metadata, m.similarity_info.distance) for m in found))
    p50, p99 = _percentiles(times)
    cpu_p50, cpu_p99 = _percentiles(cpu_times)
    batched = []  # PDQIndex takes one hash per call: a batch is a loop.
    for i in range(0, len(hexes), BATCH):
        t0 = time.perf_counter()
        for h in hexes[i : i + BATCH]:
            index.query(h)
        batched.append((time.perf_counter() - t0) / BATCH)
    return {
        "build": build,
        "build_cpu": build_cpu,
        "rss_bytes": grown / n,
        "nbytes": None,
        "batch": _percentiles(batched)[0],
        "p50": p50,
        "p99": p99,
        "cpu_p50": cpu_p50,
        "cpu_p99": cpu_p99,
        "answers": answers[:check],
    }


def brute_force(codes: np.ndarray, queries: np.ndarray, distance: int) -> list[list[list[int]]]:
    """Every (row, distance) within ``distance`` of each query, by scanning every code.

    A plain double loop, written apart from the index's kernels, so it checks them; each
    block of codes is read once for all queries, so 100M codes take seconds, not minutes.
    """
    q_idx, rows, dist = _scan_all(codes.view(np.uint64), queries.view(np.uint64), distance)
    out: list[list[list[int]]] = [[] for _ in queries]
    for q, r, d in zip(q_idx.tolist(), rows.tolist(), dist.tolist(), strict=True):
        out[q].append([r, d])
    return [sorted(found) for found in out]


@numba.njit(cache=True)
def _scan_all(
    words: np.ndarray, queries: np.ndarray, distance: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    found_q, found_r, found_d = [], [], []
    block = 1 << 14
    for start in range(0, words.shape[0], block):
        for q in range(queries.shape[0]):
            for r in range(start, min(start + block, words.shape[0])):
                d = 0
                for w in range(4):
                    x = words[r, w] ^ queries[q, w]
                    # Bit count by halving (numba has no popcount builtin).
                    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
                    x = (x & np.uint64(0x3333333333333333)) + (
                        (x >> np.uint64(2)) & np.uint64(0x3333333333333333)
                    )
                    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
                    d += int((x * np.uint64(0x0101010101010101)) >> np.uint64(56))
                if d <= distance:
                    found_q.append(q)
                    found_r.append(r)
                    found_d.append(d)
    return np.array(found_q), np.array(found_r), np.array(found_d)


def run_worker(peer: str, args: argparse.Namespace, n: int) -> dict[str, Any]:
    """Run one peer in a fresh single-threaded interpreter and read its JSON result."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        cmd = [sys.executable, __file__, "--worker", peer, "--n", str(n), "--out", out.name]
        cmd += ["--queries", str(args.queries), "--distance", str(args.distance)]
        cmd += ["--seed", str(args.seed), "--check", str(args.check)]
        cmd += ["--snapshot"] if args.snapshot and peer == "lykta" else []
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
    parser.add_argument(
        "--peer-n",
        type=int,
        default=None,
        help=f"run the peer at this n (default: min(n, {PEER_MAX_N:,}))",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--check", type=int, default=100, help="queries checked by brute force")
    parser.add_argument(
        "--snapshot",
        action="store_true",
        help="look up in Lykta's index saved and loaded back, page cache cold",
    )
    parser.add_argument("--worker", choices=["lykta", "pdq"], help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        if args.worker == "lykta":
            result = run_lykta(
                args.n, args.queries, args.distance, args.seed, args.check, args.snapshot
            )
        else:
            result = run_pdq(args.n, args.queries, args.distance, args.seed, args.check)
        Path(args.out).write_text(json.dumps(result))
        return

    rows: dict[str, dict[str, Any]] = {"lykta": run_worker("lykta", args, args.n)}
    sizes = {"lykta": args.n}
    peer_n = args.peer_n or min(args.n, PEER_MAX_N)
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

    targets = TARGETS[max(size for size in TARGETS if size <= args.n)]
    print(f"\nHamming index benchmark, distance {args.distance}, {args.queries} queries")
    print("(half near-duplicates of indexed codes, half random), single-threaded")
    if args.snapshot:
        print("lykta looks up in its index saved and loaded back (memory-mapped, cold cache)")
    print(f"load average when done: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if args.peer and peer_n < args.n:
        print(f"pdq runs at n = {peer_n:,}: the largest that fits in memory for it")
    print(f"targets for n = {args.n:,}\n")
    header = f"{'metric':<28}" + "".join(f"{name:>22}" for name in rows) + f"{'target':>12}"
    print(header)
    print("-" * len(header))
    table = [
        ("hashes indexed", lambda r, p: f"{sizes[p]:,}", ""),
        ("build (s)", lambda r, p: cell(r["build"], ".1f"), f"<= {targets['build']:.0f}"),
        ("build, CPU time (s)", lambda r, p: cell(r["build_cpu"], ".1f"), ""),
        (
            "bytes/hash (RSS growth)",
            lambda r, p: cell(r["rss_bytes"], ".1f"),
            f"<= {targets['bytes']:.0f}",
        ),
        (
            "bytes/hash (nbytes)",
            lambda r, p: cell(r["nbytes"], ".1f"),
            f"<= {targets['bytes']:.0f}",
        ),
        ("lookup p50 (ms)", lambda r, p: cell(r["p50"], ".3f"), f"<= {targets['p50']}"),
        ("lookup p99 (ms)", lambda r, p: cell(r["p99"], ".3f"), f"<= {targets['p99']:.0f}"),
        ("lookup p50, CPU time (ms)", lambda r, p: cell(r["cpu_p50"], ".3f"), ""),
        ("lookup p99, CPU time (ms)", lambda r, p: cell(r["cpu_p99"], ".3f"), ""),
        (f"batch of {BATCH}, p50/query (ms)", lambda r, p: cell(r["batch"], ".3f"), ""),
        (f"vs brute force ({args.check} q)", lambda r, p: r["check"], "0 differ"),
    ]
    for label, value, target in table:
        line = f"{label:<28}" + "".join(f"{value(r, p):>22}" for p, r in rows.items())
        print(line + f"{target:>12}")


if __name__ == "__main__":
    main()
