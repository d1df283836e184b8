"""Lykta's own hash kinds, registered through the same hook a third-party plugin uses."""

from __future__ import annotations

from lykta.hashing.base import Hasher
from lykta.hashing.exact import Md5Hasher, Sha256Hasher
from lykta.hashing.local_features import OrbHasher
from lykta.hashing.pdq import PdqHasher
from lykta.plugins import hookimpl


@hookimpl
def lykta_hashers() -> list[type[Hasher]]:
    return [PdqHasher, Md5Hasher, Sha256Hasher, OrbHasher]
