"""The numba PDQ equals pdqhash (the C++ reference compiled) bit for bit on the same pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pdqhash
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from lykta.hashing.pdq import bits_to_hex, pdq_dihedral_from_image, pdq_from_image
from lykta.media import decode_image

from .contract import THREATEXCHANGE, needs_testdata

PHOTOS = sorted(
    p
    for p in THREATEXCHANGE.rglob("*")
    if p.suffix in (".jpg", ".jpeg", ".png") and "modes" not in p.parts
)


def _assert_same_as_pdqhash(pixels: np.ndarray) -> None:
    image = Image.fromarray(pixels, "RGB")
    bits, quality = pdqhash.compute(pixels)
    assert pdq_from_image(image) == (bits_to_hex(bits), quality)
    all_bits, dihedral_quality = pdqhash.compute_dihedral(pixels)
    variants, ours_quality = pdq_dihedral_from_image(image)
    assert [value for _, value in variants] == [bits_to_hex(b) for b in all_bits]
    assert ours_quality == dihedral_quality


@needs_testdata
@pytest.mark.parametrize("path", PHOTOS, ids=[p.name for p in PHOTOS])
def test_testdata_photos_match_pdqhash(path: Path) -> None:
    _assert_same_as_pdqhash(np.asarray(decode_image(path.read_bytes(), min_side=None)))


@pytest.mark.parametrize(
    "shape", [(1, 1), (2, 3), (4, 4), (5, 5), (63, 65), (64, 64), (1, 900), (6, 3000), (2500, 7)]
)
def test_edge_sizes_match_pdqhash(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape))
    _assert_same_as_pdqhash(rng.integers(0, 256, (*shape, 3), dtype=np.uint8))


@st.composite
def _images(draw: st.DrawFn) -> np.ndarray:
    height = draw(st.integers(1, 700))
    width = draw(st.integers(1, 700))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    # Mix noise with smooth structure, so medians are not always decided by noise alone.
    if draw(st.booleans()):
        return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    y, x = np.mgrid[0:height, 0:width]
    phase = rng.uniform(0, 6, 3)
    planes = [127 + 100 * np.sin(x / (1 + width / 3) + y / (1 + height / 5) + p) for p in phase]
    return np.clip(np.stack(planes, axis=2), 0, 255).astype(np.uint8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_images())
def test_random_images_match_pdqhash(pixels: np.ndarray) -> None:
    _assert_same_as_pdqhash(pixels)


def test_luma_image_is_hashed_as_greyscale() -> None:
    grey = np.random.default_rng(5).integers(0, 256, (300, 200), dtype=np.uint8)
    expected = pdq_from_image(Image.fromarray(np.repeat(grey[:, :, None], 3, axis=2), "RGB"))
    assert pdq_from_image(Image.fromarray(grey, "L")) == expected


def _assert_luma_same_as_pdqhash(grey: np.ndarray) -> None:
    # "L" images take the exact-integer first pass; pdqhash sees the same grey as RGB.
    pixels = np.repeat(grey[:, :, None], 3, axis=2)
    bits, quality = pdqhash.compute(pixels)
    image = Image.fromarray(grey, "L")
    assert pdq_from_image(image) == (bits_to_hex(bits), quality)
    all_bits, dihedral_quality = pdqhash.compute_dihedral(pixels)
    variants, ours_quality = pdq_dihedral_from_image(image)
    assert [value for _, value in variants] == [bits_to_hex(b) for b in all_bits]
    assert ours_quality == dihedral_quality


@pytest.mark.parametrize(
    "shape",
    [(1, 1), (4, 4), (5, 5), (63, 65), (129, 257), (1, 900), (6, 3000), (2500, 7), (300, 1700)],
)
def test_luma_edge_sizes_match_pdqhash(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape) + 1)
    _assert_luma_same_as_pdqhash(rng.integers(0, 256, shape, dtype=np.uint8))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_images())
def test_random_luma_images_match_pdqhash(pixels: np.ndarray) -> None:
    _assert_luma_same_as_pdqhash(np.ascontiguousarray(pixels[:, :, 0]))


@needs_testdata
@pytest.mark.parametrize("path", PHOTOS[:8], ids=[p.name for p in PHOTOS[:8]])
def test_testdata_luma_matches_pdqhash(path: Path) -> None:
    grey = np.asarray(Image.open(path).convert("L"))
    _assert_luma_same_as_pdqhash(np.ascontiguousarray(grey))
