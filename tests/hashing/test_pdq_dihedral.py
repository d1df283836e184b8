"""Dihedral variants from pixels: the per-axis filter they rest on, and re-posts they find.

That each variant equals pdqhash of the turned pixels is tested in ``test_pdq_fast``.
"""

from __future__ import annotations

import numpy as np
import pytest

from lykta.hashing._pdq_kernels import (
    _axis_filter,
    _box_down,
    _sample_indices,
    _symmetric,
    _window,
)
from lykta.hashing.pdq import DIHEDRAL_TRANSFORMS, PdqHasher
from lykta.hashing.photo import hash_photo

from .imagegen import encode, make_photo, transformed

LENGTHS = [5, 9, 63, 64, 100, 127, 128, 129, 255, 256, 300, 384, 640, 800, 1004, 1280, 1920]
INVERSE = {"rotate90": "rotate270", "rotate270": "rotate90"}


def _reference_samples(values: np.ndarray) -> np.ndarray:
    """The reference's two box passes and decimation along one axis."""
    length = values.shape[0]
    column = values.astype(np.float32).reshape(length, 1)
    once = np.empty_like(column)
    _box_down(column, once, _window(length), np.arange(length))
    twice = np.empty((64, 1), np.float32)
    _box_down(once, twice, _window(length), _sample_indices(length))
    return twice[:, 0]


def _apply(length: int, flipped: bool, values: np.ndarray) -> np.ndarray:
    starts, counts, weights = _axis_filter(length, flipped)
    return np.array(
        [
            np.dot(weights[k, : counts[k]], values[starts[k] : starts[k] + counts[k]])
            for k in range(64)
        ]
    )


@pytest.mark.parametrize("length", LENGTHS)
def test_axis_filter_is_the_reference_filter(length: int) -> None:
    values = np.random.default_rng(length).integers(0, 256, length).astype(np.float64)
    expected = _reference_samples(values)
    assert np.allclose(_apply(length, False, values), expected, rtol=1e-5)
    # Flipped: the filter of the reversed axis, read on the unreversed values.
    assert np.allclose(_apply(length, True, values), _reference_samples(values[::-1]), rtol=1e-5)


@pytest.mark.parametrize("length", LENGTHS)
def test_symmetric_axes_flip_by_reversing_the_samples(length: int) -> None:
    """Odd windows on lengths not divisible by 128 flip exactly; the others do not."""
    values = np.random.default_rng(length + 1).integers(0, 256, length).astype(np.float64)
    reversed_samples = _apply(length, False, values)[::-1]
    flipped = _apply(length, True, values)
    assert np.allclose(flipped, reversed_samples, rtol=1e-5) == _symmetric(length)


@pytest.mark.parametrize("transform", DIHEDRAL_TRANSFORMS[1:])
def test_turned_repost_finds_the_original(transform: str) -> None:
    """A 1280x800 upload turned and re-encoded: the undoing variant hashes as the original.

    Along 1280 (= 10 x 128) the window of 10 reaches one pixel further ahead than behind
    and the samples fall on whole pixels: sign flips of the original's DCT missed by 8 bits.
    """
    photo = make_photo(1280, 800, seed=0)
    bank = hash_photo(encode(photo), trim=False).pdq
    query = hash_photo(encode(transformed(photo, transform)), trim=False)
    variants = {v.transform: v.pdq for v in query.variants}
    assert PdqHasher().distance(variants[INVERSE.get(transform, transform)], bank) <= 4
