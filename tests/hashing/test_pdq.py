"""Tests for lykta.hashing.pdq: hex format, codes for the index, dihedral names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from threatexchange.signal_type.pdq.pdq_hasher import _pdq_from_numpy_array

from lykta.errors import InvalidInput
from lykta.hashing.pdq import (
    DIHEDRAL_TRANSFORMS,
    PdqHasher,
    code_to_hex,
    hex_to_code,
    hex_to_codes,
    pdq_dihedral_from_image,
    pdq_from_image,
)
from tests.testdata import THREATEXCHANGE

from .contract import HasherContract
from .imagegen import encode, make_photo, transformed

BRIDGE_MODS = THREATEXCHANGE / "pdq" / "data" / "bridge-mods"


class TestPdqHasher(HasherContract):
    hasher = PdqHasher()

    def sample_bytes(self) -> bytes:
        return encode(make_photo(seed=1))

    def reference_cases(self) -> list[tuple[Path, str, int]]:
        orig = "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22"
        path = BRIDGE_MODS / "aaa-orig.jpg"
        return [(path, orig, 10)] if path.exists() else []

    def test_distance_counts_bits(self) -> None:
        zero = "0" * 64
        assert self.hasher.distance(zero, "f" * 64) == 256
        assert self.hasher.distance(zero, "0" * 63 + "7") == 3


def test_hex_matches_python_threatexchange_bit_order() -> None:
    pixels = np.asarray(make_photo(seed=2))
    assert pdq_from_image(Image.fromarray(pixels)) == _pdq_from_numpy_array(pixels)


def test_codes_round_trip() -> None:
    examples = PdqHasher().examples()
    codes = hex_to_codes([e.upper() for e in examples])
    assert codes.shape == (len(examples), 32) and codes.dtype == np.uint8
    assert codes.flags.writeable
    assert [code_to_hex(row) for row in codes] == examples
    assert hex_to_code(examples[0])[0] == int(examples[0][:2], 16)
    assert hex_to_codes([]).shape == (0, 32)


def test_codes_reject_bad_input() -> None:
    with pytest.raises(InvalidInput):
        hex_to_codes(["abc"])
    with pytest.raises(InvalidInput, match="32 bytes"):
        code_to_hex(np.zeros(31, np.uint8))


def test_dihedral_names_say_what_was_done() -> None:
    image = make_photo(seed=3)
    variants = pdq_dihedral_from_image(image)
    assert [name for name, _, _ in variants] == list(DIHEDRAL_TRANSFORMS)
    assert variants[0][1:] == pdq_from_image(image)
    for name, value, quality in variants:
        assert (value, quality) == pdq_from_image(transformed(image, name)), name
