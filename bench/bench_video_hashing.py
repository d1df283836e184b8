"""Benchmark: video file hashing at one frame a second, Lykta against Meta's vPDQ hasher.

Both hash the same files with the same sampling, end to end (read, decode, pick a frame
a second, PDQ), one file at a time, each with its own threading defaults: Lykta's
``hash_video`` (PyAV decoding with FFmpeg's threads, plus the file's MD5 and SHA-256 and a
second hash of frames with bars) and ``vpdq.computeHash`` (its C++ hasher over the system
FFmpeg, hashing threads chosen by itself). The clips are generated (moving, benign,
H.264 at 1080p30 and 360p30, a key frame every 2 s) and cached; the shared sample videos
are a third class. "x real" is video seconds hashed per wall second; each figure is the
best of ``--repeat`` runs. The peer is built by ``bench/peers/setup_vpdq.sh``.

    .venv/bin/python bench/bench_video_hashing.py
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lykta.hashing.video import hash_video
from video_clips import cache_dir, duration, encode, frames, generated_clip

TESTDATA = (
    Path(__file__).resolve().parents[2] / "shared" / "testdata" / "threatexchange" / "tmk"
) / "sample-videos"
SETUP_HINT = "vpdq: not installed, run bench/peers/setup_vpdq.sh"

# (name, size, encoder bit rate, target x real time for Lykta)
CLASSES = {
    "1080p": ((1920, 1080), 5_000_000, 8.0),
    "360p": ((640, 360), 800_000, 30.0),
}
PEER_TARGET = 2.0  # Lykta's throughput at least twice vpdq's


@dataclass
class Timing:
    seconds: float  # best wall time
    cpu: float  # process CPU time of that run, all threads
    frames: int


def best_of(repeat: int, job: Callable[[], int]) -> Timing:
    best: Timing | None = None
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        count = job()
        run = Timing(time.perf_counter() - start, time.process_time() - cpu, count)
        if best is None or run.seconds < best.seconds:
            best = run
    assert best is not None
    return best


def lykta_job(path: Path, interval: float, mirror: bool = False) -> Callable[[], int]:
    return lambda: len(hash_video(path, interval=interval, mirror=mirror).frames)


def vpdq_job(path: Path, interval: float) -> Callable[[], int] | None:
    try:
        import vpdq  # type: ignore[import-not-found]  # built by bench/peers/setup_vpdq.sh
    except ImportError:
        return None
    return lambda: len(vpdq.computeHash(str(path), seconds_per_hash=interval))


def clip(name: str, seconds: float, seed: int) -> Path:
    size, bit_rate, _ = CLASSES[name]
    path = cache_dir() / f"hashing-s{seed}-{seconds:g}s-{name}-{bit_rate // 1000}k.mp4"
    if not path.exists():
        print(f"generating {path.name} (cached for later runs) ...", flush=True)
        encode(path, frames(seed, seconds, 30), size=size, fps=30, bit_rate=bit_rate)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of generated clips")
    parser.add_argument(
        "--classes", default="1080p,360p", help=f"comma-separated, of {', '.join(CLASSES)}"
    )
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between frames")
    parser.add_argument("--repeat", type=int, default=2, help="runs per file, best kept")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--testdata",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also hash the shared sample videos (a row for all of them)",
    )
    parser.add_argument("--no-peer", action="store_true", help="measure Lykta only")
    args = parser.parse_args()

    rows: list[tuple[str, list[Path], float | None]] = []
    for name in args.classes.split(","):
        if name not in CLASSES:
            parser.error(f"unknown class {name!r}: use {', '.join(CLASSES)}")
        rows.append((name, [clip(name, args.seconds, args.seed)], CLASSES[name][2]))
    if args.testdata:
        shared = sorted(TESTDATA.glob("*.mp4"))
        if shared:
            rows.append(("testdata", shared, None))

    peer_missing = args.no_peer or vpdq_job(rows[0][1][0], args.interval) is None
    # Warm both sides (imports, the PDQ kernels' compilation) before any timing.
    warm = generated_clip(args.seed + 999, 2.0, (320, 180))
    lykta_job(warm, args.interval)()
    if not peer_missing:
        job = vpdq_job(warm, args.interval)
        assert job is not None
        job()

    print(
        f"interval {args.interval:g} s, best of {args.repeat}, one file at a time; "
        f"x real = video seconds per wall second (higher is better); "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    header = (
        f"{'class':>8} {'files':>5} {'video s':>7} {'Mbps':>5} | {'frames':>6} {'lykta s':>7} "
        f"{'cpu s':>6} {'x real':>6} {'target':>6} {'check x':>7} | {'frames':>6} "
        f"{'vpdq s':>7} {'cpu s':>6} {'x real':>6} | {'x vpdq':>6} {'target':>6} {'load':>4}"
    )
    print(header)
    print("-" * len(header))
    for name, files, target in rows:
        length = sum(duration(path) for path in files)
        mbps = sum(path.stat().st_size for path in files) * 8 / length / 1e6
        ours = [best_of(args.repeat, lykta_job(path, args.interval)) for path in files]
        lykta_s = sum(t.seconds for t in ours)
        checks = [best_of(args.repeat, lykta_job(path, args.interval, True)) for path in files]
        check_x = length / sum(t.seconds for t in checks)
        line = (
            f"{name:>8} {len(files):>5} {length:>7.1f} {mbps:>5.1f} | "
            f"{sum(t.frames for t in ours):>6} {lykta_s:>7.2f} {sum(t.cpu for t in ours):>6.2f} "
            f"{length / lykta_s:>6.1f} {f'>={target:g}' if target else '':>6} {check_x:>7.1f} | "
        )
        if peer_missing:
            line += f"{'-':>6} {'-':>7} {'-':>6} {'-':>6} | {'-':>6} {'':>6}"
        else:
            theirs = []
            for path in files:
                job = vpdq_job(path, args.interval)
                assert job is not None
                theirs.append(best_of(args.repeat, job))
            vpdq_s = sum(t.seconds for t in theirs)
            line += (
                f"{sum(t.frames for t in theirs):>6} {vpdq_s:>7.2f} "
                f"{sum(t.cpu for t in theirs):>6.2f} {length / vpdq_s:>6.1f} | "
                f"{vpdq_s / lykta_s:>6.2f} {f'>={PEER_TARGET:g}':>6}"
            )
        print(f"{line} {os.getloadavg()[0]:>4.1f}", flush=True)
    if peer_missing and not args.no_peer:
        print(SETUP_HINT)


if __name__ == "__main__":
    main()
