"""Hashers: turning photos and files into the hash strings that banks hold and lookups match."""

from lykta.hashing.base import Hasher, MediaKind
from lykta.hashing.exact import Md5Hasher, Sha256Hasher
from lykta.hashing.pdq import PdqHasher
from lykta.hashing.photo import PdqVariant, PhotoHashes, hash_photo
from lykta.hashing.registry import get_hasher, hasher_names, hashers

__all__ = [
    "Hasher",
    "Md5Hasher",
    "MediaKind",
    "PdqHasher",
    "PdqVariant",
    "PhotoHashes",
    "Sha256Hasher",
    "get_hasher",
    "hash_photo",
    "hasher_names",
    "hashers",
]
