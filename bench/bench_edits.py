"""Benchmark: matching edited copies of photos (crops, rotations, overlays, screenshots),
PDQ alone beside PDQ with the second path (the photo inside a screenshot, and local
features), with false matches over unrelated distractors.

Source photos (generated, textured, from seeds no test uses) are banked with
``add_media`` in a bank with local features, on a fresh core on SQLite. Each source is
edited as re-posts are, and each copy is looked up through the core
(``Lykta.lookup_photo``), once with ``local_features=False`` (PDQ alone, as before) and
once with the second path. Recall is the share of copies found as their own source; a
false match is any match of a distractor: an unrelated photo, as given or edited, a tile
of four unrelated photos, or a repetitive texture (checks, grids, dots).

    .venv/bin/python bench/bench_edits.py --photos 40 --distractors 400
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from lykta.app import Lykta
from lykta.hashing.local_features import features_of
from lykta.settings import load_settings

# The generators the tests use (benign synthetic photos and their edits).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.hashing.imagegen import (
    blurred,
    cropped,
    encode,
    gamma_adjusted,
    greyed,
    make_textured_photo,
    noisy,
    overlaid,
    rotated,
    screenshot,
)

SOURCE_SEED = 70_000
DISTRACTOR_SEED = 90_000

Edit = Callable[[Image.Image, np.random.Generator], Image.Image]
EDITS: dict[str, Edit] = {
    "crop 5-15%": lambda image, rng: cropped(image, rng.uniform(0.05, 0.15), int(rng.integers(99))),
    "rotation 3-6": lambda image, rng: rotated(
        image, float(rng.uniform(3, 6) * rng.choice([-1, 1]))
    ),
    "overlay": lambda image, rng: overlaid(image, int(rng.integers(99))),
    "screenshot": lambda image, rng: screenshot(image, int(rng.integers(99))),
    "jpeg q40": lambda image, rng: Image.open(io.BytesIO(encode(image, quality=40))),
    "resize 50%": lambda image, rng: image.resize((image.width // 2, image.height // 2)),
    "blur r2": lambda image, rng: blurred(image, 2.0),
    "grey": lambda image, rng: greyed(image),
    "gamma 0.6/1.6": lambda image, rng: gamma_adjusted(image, float(rng.choice([0.6, 1.6]))),
    "noise s8": lambda image, rng: noisy(image, 8.0, int(rng.integers(1 << 30))),
}


def lattices() -> list[Image.Image]:
    y, x = np.indices((600, 800))
    checks = ((x // 24 + y // 24) % 2 * 200 + 30).astype(np.uint8)
    grid = np.where((x % 32 < 3) | (y % 32 < 3), 20, 220).astype(np.uint8)
    dots = np.where(((x % 20 - 10) ** 2 + (y % 20 - 10) ** 2) < 25, 0, 255).astype(np.uint8)
    return [Image.fromarray(p, "L").convert("RGB") for p in (checks, grid, dots)]


def tile(images: list[Image.Image]) -> Image.Image:
    out = Image.new("RGB", (800, 600))
    for n, image in enumerate(images[:4]):
        out.paste(image.resize((400, 300)), ((n % 2) * 400, (n // 2) * 300))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=40, help="banked source photos")
    parser.add_argument("--distractors", type=int, default=400, help="unrelated queries")
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as home:
        core = Lykta.open(load_settings({"home": Path(home), "snapshot_index": False}, environ={}))
        core.banks.create("robust", local_features=True)
        sources = [make_textured_photo(seed=SOURCE_SEED + n) for n in range(args.photos)]
        started = time.perf_counter()
        for n, photo in enumerate(sources):
            core.add_media("robust", encode(photo), external_id=f"s{n}")
        bank_ms = (time.perf_counter() - started) * 1000 / len(sources)
        extract = []
        for photo in sources[:20]:
            t = time.perf_counter()
            features_of(photo)
            extract.append((time.perf_counter() - t) * 1000)

        timings: dict[bool, list[float]] = {False: [], True: []}

        def found(data: bytes, second: bool) -> list[str | None]:
            t = time.perf_counter()
            result = core.lookup_photo(data, local_features=second).result
            timings[second].append((time.perf_counter() - t) * 1000)
            return [m.external_id for m in result.matches]

        print(f"{args.photos} banked photos, {len(EDITS)} edits each; recall (share found):")
        print(f"{'edit':<14} {'PDQ alone':>10} {'PDQ+second path':>16} {'wrong matches':>14}")
        wrong_total = 0
        for name, edit in EDITS.items():
            hits = {False: 0, True: 0}
            wrong = 0
            for n, photo in enumerate(sources):
                data = encode(edit(photo, rng).convert("RGB"), quality=85)
                for second in (False, True):
                    ids = found(data, second)
                    hits[second] += f"s{n}" in ids
                    wrong += any(i != f"s{n}" for i in ids)
            wrong_total += wrong
            print(
                f"{name:<14} {hits[False] / len(sources):>10.3f} "
                f"{hits[True] / len(sources):>16.3f} {wrong:>14}"
            )

        false = {False: 0, True: 0}
        queries = 0
        for n in range(args.distractors):
            photo = make_textured_photo(seed=DISTRACTOR_SEED + n)
            kind = n % 6
            if kind == 5:
                photo = tile([make_textured_photo(seed=DISTRACTOR_SEED + 10_000 + 4 * n + k)
                              for k in range(4)])  # fmt: skip
            elif kind:
                photo = list(EDITS.values())[kind - 1](photo, rng)
            data = encode(photo.convert("RGB"), quality=85)
            queries += 1
            for second in (False, True):
                false[second] += bool(found(data, second))
        for pattern in lattices():
            queries += 1
            for second in (False, True):
                false[second] += bool(found(encode(pattern), second))
        print(
            f"\nfalse matches over {queries} distractor queries (unrelated photos, their "
            f"edits, tiles, lattices): PDQ alone {false[False]}, "
            f"PDQ+second path {false[True]}; wrong matches of edited copies: {wrong_total}"
        )
        size = core.matcher.size()
        index = core.matcher._published.indexes.get("orb")  # the bench may look inside
        print(
            f"\ncost: ORB extraction {statistics.median(extract):.1f} ms/photo (median); "
            f"add_media {bank_ms:.1f} ms/photo with keypoints; look-up median "
            f"{statistics.median(timings[False]):.1f} ms PDQ alone, "
            f"{statistics.median(timings[True]):.1f} ms with the second path "
            f"(p90 {np.percentile(timings[True], 90):.1f} ms); "
            f"orb rows {size['orb']} ({size['orb'] // max(1, args.photos)} per photo, "
            f"{(index.nbytes if index else 0) / max(1, args.photos) / 1024:.1f} KiB "
            "index memory per photo)"
        )
        core.close()


if __name__ == "__main__":
    main()
