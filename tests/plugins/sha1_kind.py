"""A hash kind from outside Lykta, as a third-party package would ship it: one class and one
hook implementation (the tests register it directly and through an entry point)."""

from __future__ import annotations

import hashlib

from lykta.hashing.base import DigestHasher, Hasher, MediaKind
from lykta.plugins import hookimpl


class Sha1Hasher(DigestHasher):
    name = "sha1"
    label = "SHA-1"
    media_kind = MediaKind.ANY
    code_bytes = 20

    def hash_bytes(self, data: bytes) -> str:
        return hashlib.sha1(data, usedforsecurity=False).hexdigest()

    def examples(self) -> list[str]:
        return ["da39a3ee5e6b4b0d3255bfef95601890afd80709"]


@hookimpl
def lykta_hashers() -> list[type[Hasher]]:
    return [Sha1Hasher]
