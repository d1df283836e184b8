"""Exact hashers (MD5, SHA-256) over the raw bytes of any file, photo or video."""

from __future__ import annotations

import hashlib

from lykta.hashing.base import Hasher, MediaKind, validate_hex


class Md5Hasher(Hasher):
    """MD5 of the file bytes: the format most hash lists from hotlines still use."""

    name = "md5"
    media_kind = MediaKind.ANY

    def hash_bytes(self, data: bytes) -> str:
        return hashlib.md5(data, usedforsecurity=False).hexdigest()

    def validate(self, value: str) -> str:
        return validate_hex(value, length=32, name="MD5")

    def distance(self, a: str, b: str) -> int:
        """0 when equal, else 1: bit differences between digests mean nothing."""
        return 0 if self.validate(a) == self.validate(b) else 1

    def examples(self) -> list[str]:
        return ["d41d8cd98f00b204e9800998ecf8427e", "0a21c8f85a55a9e276ffc2c53f6887c4"]


class Sha256Hasher(Hasher):
    """SHA-256 of the file bytes, for lists that dropped MD5."""

    name = "sha256"
    media_kind = MediaKind.ANY

    def hash_bytes(self, data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    def validate(self, value: str) -> str:
        return validate_hex(value, length=64, name="SHA-256")

    def distance(self, a: str, b: str) -> int:
        """0 when equal, else 1: bit differences between digests mean nothing."""
        return 0 if self.validate(a) == self.validate(b) else 1

    def examples(self) -> list[str]:
        return [
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        ]
