"""Exact hashers (MD5, SHA-256) over the raw bytes of any file, photo or video."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import ClassVar

from lykta.hashing.base import DigestHasher, MediaKind


class Md5Hasher(DigestHasher):
    """MD5 of the file bytes: the format most hash lists from hotlines still use."""

    name = "md5"
    label = "MD5"
    media_kind = MediaKind.ANY
    code_bytes = 16
    # HMA and python-threatexchange only know an MD5 of a video file's bytes; an MD5 is an
    # MD5 whatever the bytes are, so Lykta reads both names as its one kind.
    foreign_names: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "hma": ("video_md5", "md5"),
        "threatexchange": ("video_md5", "photo_md5", "md5"),
    }

    def hash_bytes(self, data: bytes) -> str:
        return hashlib.md5(data, usedforsecurity=False).hexdigest()

    def examples(self) -> list[str]:
        return ["d41d8cd98f00b204e9800998ecf8427e", "0a21c8f85a55a9e276ffc2c53f6887c4"]


class Sha256Hasher(DigestHasher):
    """SHA-256 of the file bytes, for lists that dropped MD5."""

    name = "sha256"
    label = "SHA-256"
    media_kind = MediaKind.ANY
    code_bytes = 32
    foreign_names: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "hma": ("sha256",),
        "threatexchange": ("video_sha256", "sha256"),
    }

    def hash_bytes(self, data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    def examples(self) -> list[str]:
        return [
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        ]
