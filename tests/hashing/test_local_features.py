"""Tests for lykta.hashing.local_features and the verification in lykta.index.local_features:
edited copies of a banked photo match, unrelated photos never do."""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import cache

import numpy as np
import pytest
from PIL import Image

from lykta.hashing.local_features import MIN_KEYPOINTS, OrbHasher, features_of
from lykta.hashing.regions import find_photo_region
from lykta.index.local_features import (
    MIN_INLIERS,
    LocalFeatures,
    verify,
)

from .contract import HasherContract
from .imagegen import (
    cropped,
    encode,
    make_photo,
    make_textured_photo,
    overlaid,
    rotated,
    screenshot,
)


class TestOrbHasher(HasherContract):
    hasher = OrbHasher()

    def sample_bytes(self) -> bytes:
        return encode(make_textured_photo(seed=1))

    def bad_hashes(self) -> list[str]:
        full = "f" * (2 * self.hasher.code_bytes)  # a keypoint count of 65535
        return [*super().bad_hashes(), full]


@cache
def banked(seed: int) -> Image.Image:
    return make_textured_photo(seed=seed)


@cache
def features(seed: int) -> LocalFeatures:
    return features_of(banked(seed))


def of_query(image: Image.Image) -> LocalFeatures:
    """A query's features as a look-up takes them: from the photo in a screenshot when
    there is one, after a JPEG round trip."""
    box = find_photo_region(image)
    shown = image if box is None else image.crop(box)
    return features_of(Image.open(io.BytesIO(encode(shown, quality=80))))


EDITS: dict[str, Callable[[Image.Image, int], Image.Image]] = {
    "crop 5%": lambda image, seed: cropped(image, 0.05, seed),
    "crop 15%": lambda image, seed: cropped(image, 0.15, seed),
    "rotate 3": lambda image, seed: rotated(image, 3),
    "rotate -6": lambda image, seed: rotated(image, -6),
    "overlay": overlaid,
    "screenshot": screenshot,
}


@pytest.mark.parametrize("edit", EDITS)
def test_edited_copies_verify(edit: str) -> None:
    for seed in range(3):
        query = of_query(EDITS[edit](banked(seed), seed))
        verified = verify(query, features(seed))
        assert verified is not None and verified.inliers >= MIN_INLIERS, (edit, seed)


def test_a_match_says_which_part_of_the_banked_photo_the_query_shows() -> None:
    photo = banked(5)
    width, height = photo.size
    whole = verify(of_query(photo), features(5))
    shot = verify(of_query(screenshot(photo, 5)), features(5))
    # The right half, from a fifth of the way down to nine tenths.
    part = verify(
        of_query(photo.crop((width // 2, height // 5, width, height * 9 // 10))), features(5)
    )
    assert whole is not None and shot is not None and part is not None
    assert np.allclose(whole.covered, (0, 0, 1, 1), atol=0.02)
    assert np.allclose(shot.covered, (0, 0, 1, 1), atol=0.02)
    assert np.allclose(part.covered, (0.5, 0.2, 1, 0.9), atol=0.02)


def test_unrelated_photos_never_verify() -> None:
    """Several hundred pairs of unrelated photos, as given and edited, and repetitive
    textures against photos and each other: not one passes."""
    bank = [features(seed) for seed in range(12)]
    queries = [of_query(banked(seed)) for seed in range(100, 112)]
    queries += [of_query(cropped(banked(seed), 0.1, seed)) for seed in range(112, 118)]
    queries += [of_query(screenshot(banked(seed), seed)) for seed in range(118, 122)]
    checks, grid, dots = (features_of(pattern) for pattern in _lattices())
    queries += [dots, grid]
    bank += [checks]
    pairs = 0
    for query in queries:
        for held in bank:
            pairs += 1
            assert verify(query, held) is None
    assert pairs >= 300


def _lattices() -> list[Image.Image]:
    """Grids and checks: repeated patterns, where keypoints all look alike."""
    y, x = np.indices((480, 640))
    checks = ((x // 24 + y // 24) % 2 * 200 + 30).astype(np.uint8)
    grid = np.where((x % 32 < 3) | (y % 32 < 3), 20, 220).astype(np.uint8)
    dots = np.where(((x % 20 - 10) ** 2 + (y % 20 - 10) ** 2) < 25, 0, 255).astype(np.uint8)
    return [Image.fromarray(pixels, "L") for pixels in (checks, grid, dots)]


def test_plain_photos_have_too_few_keypoints_to_bank() -> None:
    flat = Image.new("L", (640, 480), 128)
    assert len(features_of(flat)) < MIN_KEYPOINTS
    assert len(features_of(make_textured_photo(seed=3))) >= MIN_KEYPOINTS
    assert len(features_of(make_photo(seed=3))) >= 0  # soft photos may have few
