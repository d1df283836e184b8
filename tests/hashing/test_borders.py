"""Tests for lykta.hashing.borders: trimming bars and padding brings back the original hash."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageOps

from lykta.hashing.borders import find_content_box, trim_borders
from lykta.hashing.pdq import PdqHasher, pdq_from_image
from lykta.media import decode_image
from tests.testdata import THREATEXCHANGE, needs_testdata

from .imagegen import encode, make_photo

HASHER = PdqHasher()


def _round_trip(image: Image.Image, fmt: str) -> Image.Image:
    return decode_image(encode(image, fmt, **({"quality": 90} if fmt == "JPEG" else {})))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
@pytest.mark.parametrize(
    ("name", "border", "fill"),
    [
        ("black padding 20%", (128, 96, 128, 96), "black"),
        ("white padding 20%", (128, 96, 128, 96), "white"),
        ("letterbox bars", (0, 120, 0, 120), "black"),
        ("pillarbox bars", (160, 0, 160, 0), (40, 40, 40)),
        ("uneven blue padding", (30, 60, 90, 20), (20, 60, 200)),
    ],
)
def test_trimmed_hash_is_close_to_unpadded(
    name: str, border: tuple[int, int, int, int], fill: str | tuple[int, int, int], fmt: str
) -> None:
    content = make_photo(640, 480, seed=7)
    padded = _round_trip(ImageOps.expand(content, border, fill), fmt)
    trimmed = trim_borders(padded)
    assert trimmed is not None, name
    expected, _ = pdq_from_image(_round_trip(content, fmt))
    assert HASHER.distance(pdq_from_image(trimmed)[0], expected) <= 8, name
    assert abs(trimmed.width - 640) <= 4 and abs(trimmed.height - 480) <= 4


def test_no_trim_without_borders() -> None:
    assert find_content_box(make_photo(seed=8)) is None


def test_thin_border_is_left_alone() -> None:
    content = make_photo(500, 500, seed=9)
    assert find_content_box(ImageOps.expand(content, 4, "black")) is None


def test_uniform_image_is_not_all_border() -> None:
    assert find_content_box(Image.new("RGB", (300, 200), "white")) is None
    assert find_content_box(Image.new("RGB", (4, 4), "white")) is None


def test_dark_content_edge_is_kept() -> None:
    """A dark band of real content (noise above tolerance) must not be cut."""
    content = make_photo(400, 300, seed=10)
    dark = Image.effect_noise((400, 60), 60).point(lambda v: v // 3).convert("RGB")
    canvas = Image.new("RGB", (400, 360))
    canvas.paste(dark, (0, 0))
    canvas.paste(content, (0, 60))
    assert find_content_box(canvas) is None


@needs_testdata
def test_all_reference_photos_have_no_borders() -> None:
    for path in sorted((THREATEXCHANGE / "pdq" / "data").rglob("*.jpg")):
        image = Image.open(io.BytesIO(path.read_bytes())).convert("RGB")
        assert find_content_box(image) is None, path.name
