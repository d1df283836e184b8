"""Benchmark: photo hashing throughput of Lykta against python-threatexchange's PDQ hasher.

Both run end to end (read the file, decode, hash) in a pool of the same number of worker
processes, on seeded synthetic JPEGs of 1-12 MP and the shared test photos; "peer 1p" is the
peer in a single process, for comparison with a one-process baseline. Lykta also
computes MD5 and SHA-256; "lookup" adds the 8 dihedral variants and border trimming.
The last column is the largest bit difference between Lykta's fast hash and PDQ of the
full-resolution decode, i.e. what the fast path costs in accuracy.

    .venv/bin/python bench/bench_hashing.py --workers 2
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_file

from lykta.hashing.pdq import pdq_from_image
from lykta.hashing.photo import hash_photo
from lykta.media import decode_image

TESTDATA = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "threatexchange"
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


def make_jpeg(path: Path, megapixels: float, seed: int) -> None:
    """A benign synthetic photo: smooth gradients, blurred shapes, mild sensor-like noise."""
    rng = np.random.default_rng(seed)
    width = int((megapixels * 1e6 * 4 / 3) ** 0.5)
    height = int(width * 3 / 4)
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    channels = [
        127 + 80 * np.sin(np.pi * (rng.uniform(1, 3) * x + rng.uniform(0.5, 2) * y) + phase)
        for phase in rng.uniform(0, 6, 3)
    ]
    image = Image.fromarray(np.clip(np.stack(channels, axis=2), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(20):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(height // 12, height // 3))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x0, y0, x0 + size, y0 + size * 2 // 3), fill=colour)
    image = image.filter(ImageFilter.BoxBlur(3))
    noise = rng.normal(0, 3, (height, width, 1)).astype(np.float32)
    pixels = np.clip(np.asarray(image, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, "JPEG", quality=90)


def lykta_hash(path: Path) -> str:
    return hash_photo(path.read_bytes(), dihedral=False, trim=False).pdq


def lykta_lookup(path: Path) -> str:
    return hash_photo(path.read_bytes()).pdq


def peer_hash(path: Path) -> str:
    return pdq_from_file(path)[0]


def full_resolution_hash(path: Path) -> str:
    return pdq_from_image(decode_image(path.read_bytes(), min_side=None))[0]


def bit_difference(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def timed(pool: ProcessPoolExecutor, job: Callable[[Path], str], files: list[Path]) -> float:
    start = time.perf_counter()
    list(pool.map(job, files))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="worker processes per side")
    parser.add_argument("--per-size", type=int, default=4, help="synthetic files per size")
    parser.add_argument("--sizes", default="1,2,4,8,12", help="megapixels, comma-separated")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="lykta-bench-") as folder:
        classes: dict[str, list[Path]] = {}
        for megapixels in (float(s) for s in args.sizes.split(",")):
            files = []
            for i in range(args.per_size):
                path = Path(folder) / f"{megapixels:g}mp-{i}.jpg"
                make_jpeg(path, megapixels, seed=args.seed * 1000 + int(megapixels * 10) + i)
                files.append(path)
            classes[f"{megapixels:g} MP"] = files
        shared = sorted(
            p for p in TESTDATA.rglob("*") if p.suffix in PHOTO_SUFFIXES and "modes" not in p.parts
        )
        if shared:
            classes["testdata"] = shared

        print(f"workers per side: {args.workers}; files/s and MB/s (higher is better)")
        header = (
            f"{'class':>9} {'files':>5} {'MB':>6} | {'hash f/s':>8} {'lookup f/s':>10} "
            f"{'peer f/s':>8} {'peer 1p':>7} | {'hash MB/s':>9} {'peer MB/s':>9} | {'hash x':>6} "
            f"{'lookup x':>8} | {'max bits':>8}"
        )
        print(header)
        print("-" * len(header))
        totals = np.zeros(4)
        count, megabytes, worst_all = 0, 0.0, 0
        with ProcessPoolExecutor(args.workers) as pool, ProcessPoolExecutor(1) as single:
            # Warm the workers (imports, first-call costs) before any timing.
            warm = next(iter(classes.values()))[:1] * args.workers
            list(pool.map(lykta_lookup, warm))
            list(pool.map(peer_hash, warm))
            list(single.map(peer_hash, warm[:1]))
            for name, files in classes.items():
                size = sum(p.stat().st_size for p in files) / 1e6
                t_hash = timed(pool, lykta_hash, files)
                t_lookup = timed(pool, lykta_lookup, files)
                t_peer = timed(pool, peer_hash, files)
                t_single = timed(single, peer_hash, files)
                fast = list(pool.map(lykta_hash, files))
                full = list(pool.map(full_resolution_hash, files))
                worst = max(bit_difference(a, b) for a, b in zip(fast, full, strict=True))
                n = len(files)
                print(
                    f"{name:>9} {n:>5} {size:>6.1f} | {n / t_hash:>8.1f} {n / t_lookup:>10.1f} "
                    f"{n / t_peer:>8.1f} {n / t_single:>7.1f} | "
                    f"{size / t_hash:>9.1f} {size / t_peer:>9.1f} | "
                    f"{t_peer / t_hash:>6.1f} {t_peer / t_lookup:>8.1f} | {worst:>8}"
                )
                totals += (t_hash, t_lookup, t_peer, t_single)
                count, megabytes, worst_all = count + n, megabytes + size, max(worst_all, worst)
        t_hash, t_lookup, t_peer, t_single = totals
        print("-" * len(header))
        print(
            f"{'overall':>9} {count:>5} {megabytes:>6.1f} | {count / t_hash:>8.1f} "
            f"{count / t_lookup:>10.1f} {count / t_peer:>8.1f} {count / t_single:>7.1f} | "
            f"{megabytes / t_hash:>9.1f} "
            f"{megabytes / t_peer:>9.1f} | {t_peer / t_hash:>6.1f} {t_peer / t_lookup:>8.1f} | "
            f"{worst_all:>8}"
        )


if __name__ == "__main__":
    main()
