"""Tests for lykta.hashing.registry: built-ins by name, unique names, clear errors."""

from __future__ import annotations

import pytest

from lykta.errors import InvalidInput
from lykta.hashing.exact import Md5Hasher
from lykta.hashing.registry import (
    check_hashers,
    from_foreign,
    get_hasher,
    hasher_names,
    hashers,
    similarity_hashers,
)


def test_builtins_are_registered_through_the_plugin_hook() -> None:
    assert hasher_names() == ["md5", "orb", "pdq", "sha256"]
    assert [hasher.name for hasher in hashers()] == ["pdq", "md5", "sha256", "orb"]
    assert [hasher.name for hasher in similarity_hashers()] == ["pdq"]


def test_other_systems_names_map_onto_kinds() -> None:
    assert from_foreign("hma", "video_md5").name == "md5"
    assert from_foreign("threatexchange", "video_sha256").name == "sha256"
    assert get_hasher("md5").foreign_name("threatexchange") == "video_md5"
    assert get_hasher("pdq").foreign_name("vpdq") == "pdq"  # no name of its own: Lykta's
    with pytest.raises(InvalidInput, match="unknown hma signal type 'tmk'"):
        from_foreign("hma", "tmk")


def test_a_kind_owns_its_code_and_index() -> None:
    pdq, md5 = get_hasher("pdq"), get_hasher("md5")
    value = pdq.examples()[0]
    assert pdq.from_code(pdq.to_code(value.upper())) == value
    assert len(pdq.to_code(value)) == pdq.code_bytes == 32
    assert len(pdq.new_index()) == 0 and type(pdq.new_index()).__name__ == "HammingIndex"
    assert type(md5.new_index()).__name__ == "ExactIndex"
    assert (pdq.default_distance, pdq.max_distance, pdq.default_min_quality) == (31, 64, 50)
    assert md5.has_quality is False and pdq.has_quality is True


def test_unknown_name_lists_known_ones() -> None:
    with pytest.raises(InvalidInput, match=r"unknown hash type 'tmk'; known types: md5, orb, pdq"):
        get_hasher("tmk")


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(ValueError, match="'md5' is taken by Md5Hasher"):
        check_hashers([Md5Hasher(), Md5Hasher()])


def test_default_distance_must_be_within_the_maximum() -> None:
    from lykta.hashing.pdq import PdqHasher

    class Loose(PdqHasher):
        name = "loose"
        default_distance = 70

    with pytest.raises(ValueError, match="default distance above its maximum"):
        check_hashers([Loose()])


def test_names_must_be_lower_snake() -> None:
    class Shouty(Md5Hasher):
        name = "MD-5"

    with pytest.raises(ValueError, match="not lower_snake"):
        check_hashers([Shouty()])


def test_a_similarity_kind_the_default_index_cannot_hold_is_refused() -> None:
    # A 64-bit hash in the 256-bit HammingIndex would fail every index sync that read it.
    from lykta.hashing.pdq import PdqHasher
    from lykta.index import ExactIndex, HashIndex

    class Narrow(PdqHasher):
        name = "narrow"
        code_bytes = 8

    with pytest.raises(ValueError, match="override new_index"):
        check_hashers([Narrow()])

    class NarrowWithItsOwnIndex(Narrow):
        def new_index(self) -> HashIndex:
            return ExactIndex(self.code_bytes)

    assert check_hashers([NarrowWithItsOwnIndex()])["narrow"].code_bytes == 8
