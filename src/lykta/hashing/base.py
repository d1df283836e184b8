"""The ``Hasher`` interface: one class per hash kind, named by a constant that is never changed.

A hash kind owns everything the rest of Lykta needs to know about it: how to hash media,
how to check, parse and print a hash, how wide its code is in an index and which index
holds it, its default and largest match distance and quality floor, and the names other
systems (HMA, python-threatexchange, vPDQ) give it. Banks, matching, formats, the API and
the CLI ask the registry for kinds and never name one themselves, so a new kind is one
class (see docs/plugins.md).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from enum import StrEnum
from functools import cache
from typing import ClassVar

from lykta.errors import InvalidInput
from lykta.index import HashIndex


class MediaKind(StrEnum):
    """What content a hasher can hash; exact hashers take any bytes."""

    PHOTO = "photo"
    VIDEO = "video"
    ANY = "any"


class Hasher(ABC):
    """One kind of hash. ``name`` is a storage key: lower_snake, unique, never renamed.

    Exact kinds (a digest: equal or not) keep the defaults; similarity kinds compared by
    Hamming distance set ``similarity``, the distances and, where the hash has one, the
    quality floor.
    """

    name: ClassVar[str]
    media_kind: ClassVar[MediaKind]
    #: Width of the hash in bytes: the index's code width and the stored value's length.
    code_bytes: ClassVar[int]
    #: Compared by Hamming distance (True) or by equality (False).
    similarity: ClassVar[bool] = False
    #: A local-features kind (``orb``): only banks that enable local features use it, only
    #: where PDQ found nothing, and its index verifies candidates itself and answers with
    #: the inlier count as the distance (higher is closer; see docs/hashing.md).
    local_features: ClassVar[bool] = False
    #: A new bank's match distance for this kind, and the largest a bank may set: past it
    #: a "match" says nothing (and a look-up would scan every hash).
    default_distance: ClassVar[int] = 0
    max_distance: ClassVar[int] = 0
    #: A new bank's minimum query quality (0-100); None when the kind has no quality.
    default_min_quality: ClassVar[int | None] = None
    #: What other systems call this kind: {"hma": (...), "threatexchange": (...), ...}. The
    #: first name of each is the one written; all are read.
    foreign_names: ClassVar[Mapping[str, tuple[str, ...]]] = {}

    @property
    def has_quality(self) -> bool:
        return self.default_min_quality is not None

    @abstractmethod
    def hash_bytes(self, data: bytes) -> str:
        """Hash the content in ``data``; undecodable media raises ``MediaError``."""

    @abstractmethod
    def validate(self, value: str) -> str:
        """Return ``value`` in canonical form, or raise ``InvalidInput`` saying what is wrong.

        Everything stored or indexed goes through here, so two spellings of one hash
        (case, surrounding whitespace) can never become two entries.
        """

    def to_code(self, value: str) -> bytes:
        """The hash as the bytes stored and indexed, checked as ``validate`` would.

        Imports call this for every hash of millions: a well-formed hex hash of the right
        width is decoded at once, anything else goes through ``validate`` for its message.
        """
        try:
            code = bytes.fromhex(value)
        except (TypeError, ValueError):
            code = b""
        if len(code) == self.code_bytes and len(value) == 2 * self.code_bytes:
            return code
        return bytes.fromhex(self.validate(value))

    def from_code(self, code: bytes) -> str:
        """Inverse of ``to_code``."""
        return code.hex()

    def new_index(self) -> HashIndex:
        """An empty index for this kind's codes."""
        from lykta.index import ExactIndex, HammingIndex  # numba: only when matching

        if self.similarity:
            return HammingIndex()
        return ExactIndex(self.code_bytes)

    @abstractmethod
    def distance(self, a: str, b: str) -> int:
        """How far apart two valid hashes are; 0 means the same content."""

    @abstractmethod
    def examples(self) -> list[str]:
        """A few valid hashes, for demos, docs and the contract tests."""

    def foreign_name(self, system: str) -> str:
        """The name ``system`` writes for this kind (Lykta's own name where it has none)."""
        return self.foreign_names.get(system, (self.name,))[0]


class DigestHasher(Hasher):
    """An exact kind written as fixed-length hex: equal or not, bit differences mean nothing."""

    label: ClassVar[str]  # how errors name it, e.g. "MD5"

    def validate(self, value: str) -> str:
        return validate_hex(value, length=2 * self.code_bytes, name=self.label)

    def distance(self, a: str, b: str) -> int:
        return 0 if self.validate(a) == self.validate(b) else 1


@cache
def _hex_of_length(length: int) -> re.Pattern[str]:
    return re.compile(f"[0-9a-f]{{{length}}}")


def validate_hex(value: str, *, length: int, name: str) -> str:
    """Canonical form of a fixed-length hex hash: stripped, lowercase."""
    if not isinstance(value, str):
        raise InvalidInput(f"{name} hash must be a string, not {type(value).__name__}")
    text = value.strip().lower()
    # Imports check millions of hashes: a compiled pattern per length, not one per call.
    if not _hex_of_length(length).fullmatch(text):
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise InvalidInput(
            f"invalid {name} hash {shown!r}: expected {length} hex digits, got {len(text)} "
            "characters" + ("" if re.fullmatch("[0-9a-f]*", text) else " with non-hex characters")
        )
    return text
