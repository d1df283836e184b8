"""Contract every ``Hasher`` must meet: subclass, set ``hasher``, give cases.

Subclasses are collected as tests by pytest (their names start with ``Test``).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from lykta.errors import InvalidInput
from lykta.hashing.base import Hasher, MediaKind
from lykta.hashing.registry import get_hasher
from tests.testdata import needs_testdata


class HasherContract:
    hasher: ClassVar[Hasher]

    def sample_bytes(self) -> bytes:
        """Content this hasher can hash."""
        return b"benign sample bytes"

    def reference_cases(self) -> list[tuple[Path, str, int]]:
        """(file, published hash, largest allowed distance) from the shared testdata."""
        return []

    def bad_hashes(self) -> list[str]:
        return ["", "xyz", "0" * 7, "g" * 64, "0" * 65]

    def test_name_is_registered(self) -> None:
        assert self.hasher.name == self.hasher.name.lower()
        assert type(get_hasher(self.hasher.name)) is type(self.hasher)
        assert isinstance(self.hasher.media_kind, MediaKind)

    def test_examples_are_canonical(self) -> None:
        examples = self.hasher.examples()
        assert examples
        for example in examples:
            assert self.hasher.validate(example) == example
            assert self.hasher.distance(example, example) == 0

    def test_validate_normalises_case_and_space(self) -> None:
        example = self.hasher.examples()[0]
        assert self.hasher.validate(f"  {example.upper()}\n") == example

    def test_validate_rejects_malformed(self) -> None:
        for bad in self.bad_hashes():
            with pytest.raises(InvalidInput, match=r"invalid .* hash"):
                self.hasher.validate(bad)

    def test_distinct_examples_are_apart(self) -> None:
        first, second = self.hasher.examples()[:2]
        assert self.hasher.distance(first, second) > 0

    def test_hash_bytes_is_valid_and_stable(self) -> None:
        data = self.sample_bytes()
        value = self.hasher.hash_bytes(data)
        assert self.hasher.validate(value) == value
        assert self.hasher.hash_bytes(data) == value

    @needs_testdata
    def test_reference_vectors(self) -> None:
        cases = self.reference_cases()
        if not cases:
            pytest.skip("no reference vectors for this hasher in the testdata")
        for path, expected, max_distance in cases:
            got = self.hasher.hash_bytes(path.read_bytes())
            assert self.hasher.distance(got, expected) <= max_distance, path.name
