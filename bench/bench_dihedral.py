"""Benchmark: finding rotated and flipped re-posts, Lykta against Meta's reference PDQ.

Each benign photo is banked by its PDQ hash; each of its 7 rotations and flips, re-encoded
as a JPEG of quality 90, is a query, found when any of its 8 variant hashes lies within
distance 31 of the banked hash.

- "lykta": ``hash_photo`` of the query file (fast decode, variants hashed from pixels),
  banked with ``hash_photo`` of the original file (borders are not trimmed on either side).
- "DCT-domain": the same decode, variants by sign flips of the original's DCT, as Lykta
  did before (``pdqhash.compute_dihedral`` of the same luma, which it equalled bit for bit).
- "meta": ``pdqhash.compute_dihedral`` of the query's full-resolution RGB decode, banked
  with ``pdqhash.compute`` of the original's.

"variants exact" compares every variant of each photo with ``pdq_from_image`` of its
rotated or flipped pixels. The cost rows time ``hash_photo`` of every query file with
the 8 variants and without (one process, the two timed alternately per file, best of
``--rounds``), decode included: the ratio is what the 7 extra variants cost.

Photos: the shared testdata, plus benign images from packages installed for this only:

    apt-get install -y gnome-backgrounds desktop-base
    .venv/bin/pip install scikit-image
    .venv/bin/python bench/bench_dihedral.py
"""

from __future__ import annotations

import argparse
import io
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pdqhash
from PIL import Image

from lykta.errors import MediaError
from lykta.hashing.pdq import (
    bits_to_hex,
    pdq_dihedral_from_image,
    pdq_from_image,
)
from lykta.hashing.photo import hash_photo
from lykta.media import decode_image

TESTDATA = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "threatexchange"
SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
DISTANCE = 31
MIN_QUALITY = 50
RECALL_TARGET = 0.99
COST_TARGET = 1.25
PIL_TRANSFORMS = {
    "rotate90": Image.Transpose.ROTATE_90,
    "rotate180": Image.Transpose.ROTATE_180,
    "rotate270": Image.Transpose.ROTATE_270,
    "flip": Image.Transpose.FLIP_TOP_BOTTOM,
    "mirror": Image.Transpose.FLIP_LEFT_RIGHT,
    "transpose": Image.Transpose.TRANSPOSE,
    "transverse": Image.Transpose.TRANSVERSE,
}
SIDES = ("lykta", "DCT-domain", "meta")


def photo_sources() -> dict[str, list[Path]]:
    """Every benign raster image found, by the package (or folder) it comes from."""
    roots = {
        "testdata": [TESTDATA],
        "gnome-backgrounds": [Path("/usr/share/backgrounds")],
        "desktop-base": [Path("/usr/share/desktop-base"), Path("/usr/share/wallpapers")],
    }
    try:
        import skimage

        roots["scikit-image"] = [Path(skimage.__file__).parent / "data"]
    except ImportError:
        pass
    sources = {}
    for name, folders in roots.items():
        files = sorted(
            p
            for folder in folders
            if folder.is_dir()
            for p in folder.rglob("*")
            if p.suffix.lower() in SUFFIXES and "modes" not in p.parts
        )
        if files:
            sources[name] = files
    return sources


def distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def meta_hashes(pixels: np.ndarray) -> list[str]:
    return [bits_to_hex(bits) for bits in pdqhash.compute_dihedral(pixels)[0]]


def dct_domain_hashes(data: bytes) -> list[str]:
    """Lykta's variants before: its fast decode, the reference's DCT sign flips."""
    image = decode_image(data, luma=True)
    pixels = np.asarray(image)
    if image.mode == "L":
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
    return meta_hashes(pixels)


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def exact_variants(data: bytes) -> tuple[int, int]:
    """(variants equal to PDQ of the transformed pixels, largest difference in bits)."""
    image = decode_image(data, luma=True)
    equal, worst = 0, 0
    for name, value, quality in pdq_dihedral_from_image(image):
        op = PIL_TRANSFORMS.get(name)
        expected = pdq_from_image(image if op is None else image.transpose(op))
        equal += (value, quality) == expected
        worst = max(worst, distance(value, expected[0]))
    return equal, worst


def best_of(rounds: int, jobs: list[Callable[[], object]]) -> list[float]:
    """Seconds each job takes at best, the jobs run alternately so load hits all alike."""
    best = [float("inf")] * len(jobs)
    for _ in range(rounds):
        for i, job in enumerate(jobs):
            start = time.perf_counter()
            job()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds per file")
    parser.add_argument("--limit", type=int, default=0, help="photos per source (0: all)")
    args = parser.parse_args()

    # Hits by side, counted per transform and per photo source.
    hits: dict[str, Counter[str]] = {side: Counter() for side in SIDES}
    best_distances: dict[str, list[int]] = {side: [] for side in SIDES}
    per_source: dict[str, int] = {}
    queries: list[bytes] = []
    exact, variants, worst_bits, flat = 0, 0, 0, 0
    for source, files in photo_sources().items():
        used = 0
        for path in files[: args.limit or None]:
            data = path.read_bytes()
            try:
                bank = hash_photo(data, dihedral=False, trim=False)
                full = decode_image(data, min_side=None)
            except MediaError:
                continue
            if bank.quality < MIN_QUALITY:
                flat += 1
                continue
            used += 1
            equal, worst = exact_variants(data)
            exact, variants, worst_bits = exact + equal, variants + 8, max(worst_bits, worst)
            meta_bank = bits_to_hex(pdqhash.compute(np.asarray(full))[0])
            for name, op in PIL_TRANSFORMS.items():
                query = jpeg(full.transpose(op))
                queries.append(query)
                found = {
                    "lykta": [v.pdq for v in hash_photo(query, trim=False).variants],
                    "DCT-domain": dct_domain_hashes(query),
                    "meta": meta_hashes(np.asarray(decode_image(query, min_side=None))),
                }
                for side, hashes in found.items():
                    bank_hash = meta_bank if side == "meta" else bank.pdq
                    best = min(distance(h, bank_hash) for h in hashes)
                    best_distances[side].append(best)
                    hits[side][name] += best <= DISTANCE
                    hits[side][source] += best <= DISTANCE
        per_source[source] = used

    photos = sum(per_source.values())
    count = len(queries)
    if not count:
        raise SystemExit("no photos found: see the docstring for the packages to install")
    print(
        f"photos: {photos} with PDQ quality >= {MIN_QUALITY} ({flat} flatter left out): "
        + ", ".join(f"{source} {used}" for source, used in per_source.items())
    )
    print(f"queries: {count} = {photos} photos x 7 rotations and flips, JPEG quality 90\n")
    header = f"{'metric':<40} {'lykta':>10} {'DCT-domain':>11} {'meta':>10} {'target':>10}"
    print(header)
    print("-" * len(header))
    recall = {side: sum(hits[side][name] for name in PIL_TRANSFORMS) / count for side in SIDES}
    print(
        f"{'dihedral recall (distance <= 31)':<40} {recall['lykta']:>10.3f} "
        f"{recall['DCT-domain']:>11.3f} {recall['meta']:>10.3f} {'>= 0.99':>10}"
    )
    groups = [(name, photos) for name in PIL_TRANSFORMS]
    groups += [(source, 7 * used) for source, used in per_source.items() if used]
    for group, total in groups:
        rates = [hits[side][group] / total for side in SIDES]
        print(f"{'  ' + group:<40} {rates[0]:>10.3f} {rates[1]:>11.3f} {rates[2]:>10.3f}")
    means = [float(np.mean(best_distances[side])) for side in SIDES]
    print(
        f"{'mean best distance (bits)':<40} {means[0]:>10.1f} {means[1]:>11.1f} {means[2]:>10.1f}"
    )
    p99 = [float(np.percentile(best_distances[side], 99)) for side in SIDES]
    print(f"{'p99 best distance (bits)':<40} {p99[0]:>10.0f} {p99[1]:>11.0f} {p99[2]:>10.0f}")
    print(
        f"{'variants = PDQ of turned pixels':<40} {f'{exact}/{variants}':>10} "
        f"{'':>11} {'':>10} {'all':>10}"
    )
    print(f"{'  largest difference (bits)':<40} {worst_bits:>10} {'':>11} {'':>10} {'0':>10}")

    for label, plain_options, options in (
        ("", {"dihedral": False, "trim": False}, {"trim": False}),
        (", with trimming", {"dihedral": False}, {}),
    ):
        plain = dihedral = 0.0
        for query in queries:
            t_plain, t_dihedral = best_of(
                args.rounds,
                [
                    partial(hash_photo, query, **plain_options),
                    partial(hash_photo, query, **options),
                ],
            )
            plain, dihedral = plain + t_plain, dihedral + t_dihedral
        target = f"<= {COST_TARGET}" if not label else ""
        print(f"{'hash f/s, original only' + label:<40} {count / plain:>10.1f}")
        print(f"{'hash f/s, 8 variants' + label:<40} {count / dihedral:>10.1f}")
        print(f"{'cost ratio, 8 variants / 1' + label:<40} {dihedral / plain:>10.3f} {target:>33}")


if __name__ == "__main__":
    main()
