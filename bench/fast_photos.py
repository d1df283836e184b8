"""Textured benign photos made fast, for benchmarks that bank 100,000 of them.

``tests.hashing.imagegen.make_textured_photo`` takes 0.1-0.5 s a photo, nearly all of it
PIL's Gaussian blurs and per-pixel noise and trigonometry in float64: 100,000 photos would
take hours before a single keypoint is extracted. Here the same ingredients cost a few
milliseconds: a smooth colour field made at an eightieth of the size and scaled up, 150
small filled shapes and strokes drawn by OpenCV, one light blur, and noise cut at a random
offset from one table made once. Every seed gives a different picture (its own field,
shapes, colours and noise offset); none of it depends on the test generators, so seeds
used here and in tests never give the same photo.

Its own speed, and with ORB extraction (one core), over ``--photos`` photos:

    .venv/bin/python bench/fast_photos.py --photos 1000
"""

from __future__ import annotations

import argparse
import time
from functools import cache

import cv2
import numpy as np
from PIL import Image

SHAPES = 150
_NOISE_SIDE = 1024


@cache
def _noise() -> np.ndarray:
    """One table of light noise (sigma about 4), cut at a random offset for each photo."""
    rng = np.random.default_rng(0)
    table = rng.normal(0, 4, (_NOISE_SIDE, _NOISE_SIDE, 3)).round().astype(np.int16)
    return table


def fast_textured_photo(width: int = 640, height: int = 480, seed: int = 0) -> Image.Image:
    """A deterministic RGB picture with the corners and detail ORB needs, distinct per
    seed; at most ``_NOISE_SIDE`` pixels a side."""
    rng = np.random.default_rng(seed)
    # The field: random colours on a coarse grid with two slow waves, scaled up smoothly.
    small_w, small_h = max(2, width // 80), max(2, height // 80)
    grid = rng.uniform(40, 215, (small_h, small_w, 3)).astype(np.float32)
    ys = np.linspace(0, np.pi * rng.uniform(1, 3), small_h, dtype=np.float32)[:, None, None]
    xs = np.linspace(0, np.pi * rng.uniform(1, 3), small_w, dtype=np.float32)[None, :, None]
    grid += 40 * np.sin(xs + rng.uniform(0, 6, 3).astype(np.float32))
    grid += 40 * np.cos(ys + rng.uniform(0, 6, 3).astype(np.float32))
    image = cv2.resize(np.clip(grid, 0, 255).astype(np.uint8), (width, height),
                       interpolation=cv2.INTER_CUBIC)  # fmt: skip
    # Shapes: positions, sizes, colours and kinds drawn in one go per photo.
    xy = rng.integers(0, (width, height), (SHAPES, 2))
    sizes = rng.integers(4, 60, SHAPES)
    colours = rng.integers(0, 256, (SHAPES, 3)).tolist()
    kinds = rng.random(SHAPES)
    corners = rng.uniform(-1, 1, (SHAPES, 3, 2)) * sizes[:, None, None]
    ends = xy + rng.integers(-80, 81, (SHAPES, 2))
    squash = rng.uniform(0.3, 1, SHAPES)
    widths = rng.integers(1, 4, SHAPES)
    for n in range(SHAPES):
        x, y = int(xy[n, 0]), int(xy[n, 1])
        if kinds[n] < 0.4:
            axes = (int(sizes[n]) // 2, max(1, int(sizes[n] * squash[n]) // 2))
            cv2.ellipse(image, (x, y), axes, 0, 0, 360, colours[n], -1, cv2.LINE_AA)
        elif kinds[n] < 0.8:
            points = (corners[n] + xy[n]).astype(np.int32)
            cv2.fillConvexPoly(image, points, colours[n], cv2.LINE_AA)
        else:
            end = (int(ends[n, 0]), int(ends[n, 1]))
            cv2.line(image, (x, y), end, colours[n], int(widths[n]), cv2.LINE_AA)
    image = cv2.GaussianBlur(image, (0, 0), 0.8)
    noise = _noise()
    top = int(rng.integers(0, _NOISE_SIDE - height + 1))
    left = int(rng.integers(0, _NOISE_SIDE - width + 1))
    noisy = image.astype(np.int16) + noise[top : top + height, left : left + width]
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")


def main() -> None:
    from lykta.hashing.local_features import features_of

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=1000)
    parser.add_argument("--first-seed", type=int, default=200_000)
    args = parser.parse_args()
    cv2.setNumThreads(1)  # one core, as the figures say
    seeds = range(args.first_seed, args.first_seed + args.photos)
    _noise()
    started = time.perf_counter()
    photos = [fast_textured_photo(640, 480, seed) for seed in seeds]
    made = time.perf_counter() - started
    started = time.perf_counter()
    keypoints = [len(features_of(photo)) for photo in photos]
    extracted = time.perf_counter() - started
    per_photo = (made + extracted) / args.photos
    print(
        f"{args.photos} photos 640x480: generated in {made:.2f} s "
        f"({1000 * made / args.photos:.1f} ms each), ORB-extracted in {extracted:.2f} s "
        f"({1000 * extracted / args.photos:.1f} ms each, keypoints min {min(keypoints)}, "
        f"median {int(np.median(keypoints))}); 100,000 would take {per_photo * 1e5 / 60:.0f} min"
    )
    distinct = len({photo.tobytes()[:4096] for photo in photos[:200]})
    print(f"distinct among the first 200: {distinct}")


if __name__ == "__main__":
    main()
