"""Soak: look-ups from 16 connections for ten minutes while a curator adds a hash every
second, against `lykta serve` with 1M PDQ hashes; throughput and p99 at rest beside with
writes, and the server's memory over time.

    python bench/bench_soak.py --n 1000000 --seconds 600

First `--rest-seconds` of look-ups alone, then `--seconds` of look-ups with one write a
second (`POST /api/v1/banks/bench/content`, a new random hash each time). Look-ups go to
the native route with the varied queries of bench_http.py, in slices of `--slice` seconds
so a slowdown over time shows. The bank is a copy of the prepared one, so the writes do not
change it for later runs. RSS is summed over the server and its workers; RssAnon (the heap)
and RssFile (mapped index snapshots, shared between workers but counted in each) are shown
apart.

`--trace-memory DIR` also runs tracemalloc in every worker and writes, every slice, the
allocation sites that grew most since the end of the first slice (DIR/<pid>.txt): slower,
for finding a leak rather than measuring.

Targets (issue 5): with writes >= 70% of the throughput at rest; RSS after the first minute
grows <= 10%. Last measured before the fixes: 372 look-ups/s at p99 174 ms, RSS 322 -> 1,220
MB and still rising. Needs wrk (`apt-get install wrk`).
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

import serving

TRACER = """
import os, threading, time, tracemalloc

def _trace() -> None:
    folder = os.environ["LYKTA_BENCH_TRACE_DIR"]
    every = float(os.environ["LYKTA_BENCH_TRACE_EVERY"])
    first = None
    while True:
        time.sleep(every)
        snapshot = tracemalloc.take_snapshot()
        if first is None:
            first = snapshot
            continue
        current, peak = tracemalloc.get_traced_memory()
        lines = [f"traced {current / 2**20:.1f} MB (peak {peak / 2**20:.1f} MB)"]
        for stat in snapshot.compare_to(first, "traceback")[:12]:
            lines.append(f"{stat.size_diff / 2**20:+.2f} MB in {stat.count_diff:+d} blocks")
            lines.extend("    " + line for line in stat.traceback.format(limit=8))
        with open(os.path.join(folder, f"{os.getpid()}.txt"), "w") as out:
            out.write("\\n".join(lines) + "\\n")

def _start() -> None:
    threading.Thread(target=_trace, daemon=True).start()

if os.environ.get("LYKTA_BENCH_TRACE_DIR"):
    tracemalloc.start(16)
    os.register_at_fork(after_in_child=_start)
"""


@dataclass
class Writer:
    """One curator write a second, in its own thread; latencies and failures kept."""

    base: str
    token: str
    seconds: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.base, headers=headers, timeout=30) as client:
            next_at = time.monotonic()
            while not self.stop.is_set():
                started = time.monotonic()
                try:
                    response = client.post(
                        "/api/v1/banks/bench/content", json={"hash": secrets.token_hex(32)}
                    )
                    if response.status_code == 201:
                        self.seconds.append(time.monotonic() - started)
                    else:
                        self.failures.append(f"{response.status_code} {response.text[:80]}")
                except httpx.HTTPError as error:
                    self.failures.append(repr(error))
                next_at += 1.0
                self.stop.wait(max(0.0, next_at - time.monotonic()))


@dataclass
class Slice:
    phase: str
    end: float  # seconds since the look-ups started
    figures: dict[str, float]
    memory: dict[str, float]
    writes: int


def memory(server: serving.Server) -> dict[str, float]:
    """VmRSS, RssAnon and RssFile in MB, summed over the server's processes."""
    totals = {"VmRSS": 0.0, "RssAnon": 0.0, "RssFile": 0.0}
    for pid in server.pids():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for name in totals:
            found = re.search(rf"^{name}:\s+(\d+) kB", status, re.M)
            totals[name] += int(found.group(1)) / 1024 if found else 0
    return totals


def row(s: Slice) -> str:
    m = s.memory
    return (
        f"{s.figures['rps']:>7,.0f} {s.figures['p99']:>7.2f} {m['VmRSS']:>8,.0f} "
        f"{m['RssAnon']:>8,.0f} {m['RssFile']:>8,.0f} {s.writes:>6}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=600, help="look-ups with writes")
    parser.add_argument("--rest-seconds", type=int, default=60, help="look-ups alone, first")
    parser.add_argument("--slice", type=int, default=30, help="seconds per wrk run")
    parser.add_argument("--route", choices=list(serving.ROUTES), default="native")
    parser.add_argument("--trace-memory", type=Path, help="run tracemalloc, write reports here")
    parser.add_argument("--data-dir", type=Path, help="prepared banks are kept here and reused",
                        default=Path(tempfile.gettempdir()) / "lykta-bench")  # fmt: skip
    args = parser.parse_args()

    prepared = serving.prepare(args.data_dir, args.n)
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "home"
        shutil.copytree(prepared.home, home)
        extra: dict[str, str] = {}
        if args.trace_memory:
            args.trace_memory.mkdir(parents=True, exist_ok=True)
            (Path(folder) / "sitecustomize.py").write_text(TRACER)
            path = os.pathsep.join(filter(None, (folder, os.environ.get("PYTHONPATH"))))
            extra = {"PYTHONPATH": path, "LYKTA_BENCH_TRACE_DIR": str(args.trace_memory),
                     "LYKTA_BENCH_TRACE_EVERY": str(args.slice)}  # fmt: skip
        server = serving.Server(serving.base_env(home), args.workers, extra=extra)
        print(f"starting lykta serve ({args.workers} workers, {args.n:,} hashes); {serving.load()}")
        server.start(prepared.matcher, args.n)
        writer = Writer(server.base, prepared.curator)
        slices: list[Slice] = []
        path = serving.ROUTES[args.route]
        try:
            serving.wrk(server.base, path, prepared.matcher, prepared.queries, args.connections, 3)
            clock = 0.0
            thread = threading.Thread(target=writer.run, daemon=True)
            for phase, seconds in (("rest", args.rest_seconds), ("writes", args.seconds)):
                if phase == "writes":
                    thread.start()
                elapsed = 0
                while elapsed < seconds:
                    length = min(args.slice, seconds - elapsed)
                    figures = serving.wrk(server.base, path, prepared.matcher, prepared.queries,
                                          args.connections, length)  # fmt: skip
                    elapsed += length
                    clock += length
                    slices.append(Slice(phase, clock, figures, memory(server), len(writer.seconds)))
                    print(f"  {phase:<6} {clock:>5.0f} s", row(slices[-1]), serving.load(),
                          flush=True)  # fmt: skip
        finally:
            writer.stop.set()
            server.stop()
    report(args, slices, writer)


def report(args: argparse.Namespace, slices: list[Slice], writer: Writer) -> None:
    def phase(name: str) -> tuple[float, float, float]:
        chosen = [s for s in slices if s.phase == name]
        requests = sum(s.figures["requests"] for s in chosen)
        seconds = sum(s.figures["seconds"] for s in chosen)
        p99s = [s.figures["p99"] for s in chosen]
        return requests / seconds, statistics.median(p99s), max(p99s)

    rest, writes = phase("rest"), phase("writes")
    print(f"\nSoak: {args.n:,} PDQ hashes, lykta serve --workers {args.workers}, "
          f"{args.connections} connections on {args.route}, one write a second for "
          f"{args.seconds} s after {args.rest_seconds} s at rest; {serving.load()}")  # fmt: skip
    print(f"{'':<24} {'req/s':>8} {'p99 ms (median slice)':>22} {'p99 ms (worst slice)':>21}")
    print(f"{'at rest':<24} {rest[0]:>8,.0f} {rest[1]:>22.2f} {rest[2]:>21.2f}")
    print(f"{'with a write a second':<24} {writes[0]:>8,.0f} {writes[1]:>22.2f} {writes[2]:>21.2f}")
    ratio = writes[0] / rest[0]
    verdict = "met" if ratio >= 0.7 else "missed"
    print(f"with writes / at rest: {ratio:.0%} (target >= 70%: {verdict})")
    if writer.seconds:
        ordered = sorted(writer.seconds)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        print(f"writes: {len(ordered)} ok, {len(writer.failures)} failed; latency p50 "
              f"{statistics.median(ordered) * 1e3:.0f} ms, p99 {p99 * 1e3:.0f} ms, max "
              f"{ordered[-1] * 1e3:.0f} ms")  # fmt: skip
    for failure in writer.failures[:5]:
        print(f"  failed write: {failure}")

    print(f"\n{'t (s)':>6} {'phase':<7} {'req/s':>7} {'p99 ms':>7} {'RSS MB':>8} {'anon MB':>8} "
          f"{'file MB':>8} {'writes':>6}")  # fmt: skip
    for s in slices:
        print(f"{s.end:>6.0f} {s.phase:<7} {row(s)}")
    written = [s for s in slices if s.phase == "writes"]
    after_minute = next((s for s in written if s.end - args.rest_seconds >= 60), None)
    if after_minute is not None and written[-1] is not after_minute:
        base, last = after_minute.memory["VmRSS"], written[-1].memory["VmRSS"]
        growth = last / base - 1
        verdict = "met" if growth <= 0.10 else "missed"
        print(f"RSS after the first minute of writes {base:,.0f} MB, at the end {last:,.0f} MB: "
              f"{growth:+.1%} (target <= +10%: {verdict})")  # fmt: skip


if __name__ == "__main__":
    main()
