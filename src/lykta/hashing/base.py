"""The ``Hasher`` interface: one class per hash kind, named by a constant that is never changed.

A hasher turns media bytes into a hash string, checks and normalises hash strings that
arrive from banks and exchanges, and measures how far apart two hashes are. Matching,
banks and exchanges only ever see the strings.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from enum import StrEnum
from typing import ClassVar

from lykta.errors import InvalidInput


class MediaKind(StrEnum):
    """What content a hasher can hash; exact hashers take any bytes."""

    PHOTO = "photo"
    VIDEO = "video"
    ANY = "any"


class Hasher(ABC):
    """One kind of hash. ``name`` is a storage key: lower_snake, unique, never renamed."""

    name: ClassVar[str]
    media_kind: ClassVar[MediaKind]

    @abstractmethod
    def hash_bytes(self, data: bytes) -> str:
        """Hash the content in ``data``; undecodable media raises ``MediaError``."""

    @abstractmethod
    def validate(self, value: str) -> str:
        """Return ``value`` in canonical form, or raise ``InvalidInput`` saying what is wrong.

        Everything stored or indexed goes through here, so two spellings of one hash
        (case, surrounding whitespace) can never become two entries.
        """

    @abstractmethod
    def distance(self, a: str, b: str) -> int:
        """How far apart two valid hashes are; 0 means the same content."""

    @abstractmethod
    def examples(self) -> list[str]:
        """A few valid hashes, for demos, docs and the contract tests."""


def validate_hex(value: str, *, length: int, name: str) -> str:
    """Canonical form of a fixed-length hex hash: stripped, lowercase."""
    if not isinstance(value, str):
        raise InvalidInput(f"{name} hash must be a string, not {type(value).__name__}")
    text = value.strip().lower()
    if not re.fullmatch(f"[0-9a-f]{{{length}}}", text):
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise InvalidInput(
            f"invalid {name} hash {shown!r}: expected {length} hex digits, got {len(text)} "
            "characters" + ("" if re.fullmatch("[0-9a-f]*", text) else " with non-hex characters")
        )
    return text
