"""Tests for lykta.hashing.photo: one upload, every hash a lookup needs."""

from __future__ import annotations

import hashlib

import pytest
from PIL import ImageOps

from lykta.errors import MediaError
from lykta.hashing.pdq import DIHEDRAL_TRANSFORMS, PdqHasher
from lykta.hashing.photo import hash_photo

from .imagegen import encode, make_photo


def test_exact_and_pdq_hashes() -> None:
    data = encode(make_photo(seed=11))
    hashes = hash_photo(data)
    assert hashes.md5 == hashlib.md5(data).hexdigest()
    assert hashes.sha256 == hashlib.sha256(data).hexdigest()
    assert (hashes.pdq, hashes.quality) == PdqHasher().hash_with_quality(data)
    assert hashes.quality == 100
    assert [v.transform for v in hashes.variants] == list(DIHEDRAL_TRANSFORMS)
    assert hashes.variants[0].pdq == hashes.pdq


def test_plain_hash_has_only_the_original() -> None:
    hashes = hash_photo(encode(make_photo(seed=12)), dihedral=False, trim=False)
    assert [v.transform for v in hashes.variants] == ["original"]


def test_trimmed_variants_are_named() -> None:
    data = encode(ImageOps.expand(make_photo(seed=13), (0, 100), "black"), "PNG")
    assert [v.transform for v in hash_photo(data, dihedral=False).variants] == [
        "original",
        "trimmed",
    ]
    names = [v.transform for v in hash_photo(data).variants]
    assert names[8:] == ["trimmed"] + [f"trimmed+{t}" for t in DIHEDRAL_TRANSFORMS[1:]]
    assert "trimmed" not in [v.transform for v in hash_photo(data, trim=False).variants]


def test_bad_media_raises_media_error() -> None:
    with pytest.raises(MediaError, match="file is empty"):
        hash_photo(b"")
