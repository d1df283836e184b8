"""What a bank holds: content items, each with the hashes it has.

A photo item carries its PDQ, MD5 and SHA-256; a video item carries its frame hashes (each
with quality and time) and its file digests; a bare hash from a hash list is an item with
one hash. Imports, the API and the CLI all build these; the bank service stores them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from lykta.hashing.registry import get_hasher


# Not frozen: an import builds millions of these, and a frozen dataclass costs about three
# times as much to make. Nothing changes them after they are made.
@dataclass(slots=True)
class ItemHash:
    """One hash of an item: canonical text, and for frames their quality and time."""

    kind: str
    value: str
    quality: int | None = None
    seconds: float | None = None


@dataclass(slots=True)
class ContentItem:
    """A content item to add to a bank, or one read back from it (then ``id`` is set)."""

    hashes: tuple[ItemHash, ...]
    external_id: str | None = None
    labels: tuple[str, ...] = ()
    media_kind: str | None = None
    duration: float | None = None
    id: int | None = None
    note: str | None = None

    @classmethod
    def of_hash(
        cls,
        kind: str,
        value: str,
        external_id: str | None = None,
        labels: Iterable[str] = (),
        quality: int | None = None,
    ) -> ContentItem:
        """An item with one hash (checked and normalised by its kind)."""
        hasher = get_hasher(kind)
        return cls(
            (ItemHash(hasher.name, hasher.validate(value), quality),), external_id, tuple(labels)
        )
