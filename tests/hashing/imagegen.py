"""Benign synthetic photos for hashing tests: smooth gradients, soft shapes, light noise."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def make_photo(width: int = 640, height: int = 480, seed: int = 0) -> Image.Image:
    """A deterministic RGB picture with enough structure for a PDQ quality of 100."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack(
        [
            127 + 90 * np.sin(x / width * np.pi * rng.uniform(1, 3) + rng.uniform(0, 6)),
            127 + 90 * np.cos(y / height * np.pi * rng.uniform(1, 3) + rng.uniform(0, 6)),
            127 + 60 * np.sin((x + y) / (width + height) * np.pi * rng.uniform(2, 5)),
        ],
        axis=2,
    )
    image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x0, y0 = rng.integers(0, width), rng.integers(0, height)
        size = int(rng.integers(min(width, height) // 10, min(width, height) // 3))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x0 + size, y0 + size), fill=colour)
        else:
            draw.rectangle((x0, y0, x0 + size, y0 + size // 2), fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(2))
    noise = rng.normal(0, 4, (height, width, 3))
    return Image.fromarray(np.clip(np.asarray(image) + noise, 0, 255).astype(np.uint8), "RGB")


# The PIL operation that turns an image into what each dihedral variant hashes.
PIL_TRANSFORMS: dict[str, Image.Transpose | None] = {
    "original": None,
    "rotate90": Image.Transpose.ROTATE_90,
    "rotate180": Image.Transpose.ROTATE_180,
    "rotate270": Image.Transpose.ROTATE_270,
    "flip": Image.Transpose.FLIP_TOP_BOTTOM,
    "mirror": Image.Transpose.FLIP_LEFT_RIGHT,
    "transpose": Image.Transpose.TRANSPOSE,
    "transverse": Image.Transpose.TRANSVERSE,
}


def transformed(image: Image.Image, transform: str) -> Image.Image:
    """``image`` rotated or flipped as the dihedral variant named ``transform`` hashes it."""
    op = PIL_TRANSFORMS[transform]
    return image if op is None else image.transpose(op)


def encode(image: Image.Image, fmt: str = "JPEG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()
