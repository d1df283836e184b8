"""Tests for lykta.hashing.registry: built-ins by name, unique names, clear errors."""

from __future__ import annotations

import pytest

from lykta.errors import InvalidInput
from lykta.hashing.exact import Md5Hasher
from lykta.hashing.registry import BUILTIN_HASHERS, check_hashers, get_hasher, hasher_names


def test_builtins_are_registered() -> None:
    assert hasher_names() == ["md5", "pdq", "sha256"]
    assert [get_hasher(cls.name).name for cls in BUILTIN_HASHERS] == ["pdq", "md5", "sha256"]


def test_unknown_name_lists_known_ones() -> None:
    with pytest.raises(InvalidInput, match=r"unknown hash type 'tmk'; known types: md5, pdq"):
        get_hasher("tmk")


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(ValueError, match="'md5' is taken by Md5Hasher"):
        check_hashers([Md5Hasher(), Md5Hasher()])


def test_names_must_be_lower_snake() -> None:
    class Shouty(Md5Hasher):
        name = "MD-5"

    with pytest.raises(ValueError, match="not lower_snake"):
        check_hashers([Shouty()])
