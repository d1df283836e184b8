"""The hash kinds Lykta knows, gathered from the plugins and looked up by their stored names."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from lykta.errors import InvalidInput, LyktaError
from lykta.hashing.base import Hasher
from lykta.index.base import HAMMING_CODE_BYTES
from lykta.plugins import plugin_manager

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
        if hasher.similarity and not 0 <= hasher.default_distance <= hasher.max_distance:
            raise ValueError(f"hasher {hasher.name!r}: default distance above its maximum")
        if (
            hasher.similarity
            and type(hasher).new_index is Hasher.new_index
            and hasher.code_bytes != HAMMING_CODE_BYTES
        ):
            # Found only when the first hash of the kind reaches the index, that would stop
            # every replica's index sync for good.
            raise ValueError(
                f"hasher {hasher.name!r}: HammingIndex holds {HAMMING_CODE_BYTES}-byte codes, "
                f"not {hasher.code_bytes}; override new_index() for another width"
            )
        by_name[hasher.name] = hasher
    return by_name


@cache
def _registry() -> dict[str, Hasher]:
    # Plugins answer in reverse registration order; the built-ins come first in listings.
    answers = reversed(plugin_manager().hook.lykta_hashers())
    try:
        return check_hashers(cls() for found in answers for cls in found)
    except ValueError as error:
        # An installed plugin's fault, not Lykta's: every door says so in one line.
        raise LyktaError(f"cannot register the plugins' hash kinds: {error}") from None


def refresh() -> None:
    """Forget the gathered kinds, after a plugin was registered at run time (tests do)."""
    _registry.cache_clear()


def get_hasher(name: str) -> Hasher:
    """The hasher stored under ``name``; unknown names raise ``InvalidInput``."""
    try:
        return _registry()[name.strip().lower()]
    except KeyError:
        known = ", ".join(sorted(_registry()))
        raise InvalidInput(f"unknown hash type {name!r}; known types: {known}") from None


def hashers() -> list[Hasher]:
    """Every registered hasher, built-ins first."""
    return list(_registry().values())


def hasher_names() -> list[str]:
    """Names of every registered hasher, sorted."""
    return sorted(_registry())


def similarity_hashers() -> list[Hasher]:
    """The kinds matched by distance, which carry per-bank distances (and quality floors)."""
    return [hasher for hasher in hashers() if hasher.similarity]


def from_foreign(system: str, name: str) -> Hasher:
    """The kind ``system`` (``hma``, ``threatexchange``) calls ``name``, by its names or ours."""
    wanted = name.strip().lower()
    for hasher in hashers():
        if wanted in hasher.foreign_names.get(system, (hasher.name,)):
            return hasher
    known = ", ".join(
        sorted({n for h in hashers() for n in h.foreign_names.get(system, (h.name,))})
    )
    raise InvalidInput(f"unknown {system} signal type {name!r} (known: {known})")


def check_stored_kinds(kinds: Iterable[str]) -> None:
    """Refuse to start on a database holding a kind no installed plugin provides."""
    missing = sorted(set(kinds) - set(_registry()))
    if missing:
        raise LyktaError(
            f"the database holds hashes of kind(s) {', '.join(missing)} that no installed "
            "plugin provides; install the plugin that adds them (see `lykta plugins`), or "
            "delete the banks that hold them"
        )
