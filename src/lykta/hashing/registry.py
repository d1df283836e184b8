"""The list of hashers Lykta knows, looked up by their stored names."""

from __future__ import annotations

import re
from collections.abc import Iterable

from lykta.errors import InvalidInput
from lykta.hashing.base import Hasher
from lykta.hashing.exact import Md5Hasher, Sha256Hasher
from lykta.hashing.pdq import PdqHasher

BUILTIN_HASHERS: tuple[type[Hasher], ...] = (PdqHasher, Md5Hasher, Sha256Hasher)

_NAME = re.compile(r"[a-z][a-z0-9_]*")


def check_hashers(hashers: Iterable[Hasher]) -> dict[str, Hasher]:
    """Hashers by name; a malformed or repeated name is a programming error and raises."""
    by_name: dict[str, Hasher] = {}
    for hasher in hashers:
        if not _NAME.fullmatch(hasher.name):
            raise ValueError(f"hasher name {hasher.name!r} is not lower_snake")
        if hasher.name in by_name:
            raise ValueError(
                f"hasher name {hasher.name!r} is taken by {type(by_name[hasher.name]).__name__}"
            )
        by_name[hasher.name] = hasher
    return by_name


_REGISTRY = check_hashers(cls() for cls in BUILTIN_HASHERS)


def get_hasher(name: str) -> Hasher:
    """The hasher stored under ``name``; unknown names raise ``InvalidInput``."""
    try:
        return _REGISTRY[name.strip().lower()]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise InvalidInput(f"unknown hash type {name!r}; known types: {known}") from None


def hasher_names() -> list[str]:
    """Names of every registered hasher, sorted."""
    return sorted(_REGISTRY)
