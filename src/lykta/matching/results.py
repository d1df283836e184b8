"""What a look-up is asked and what it answers."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class QueryHash:
    """One hash of the content being checked, and how it was derived from the content."""

    kind: str
    value: bytes
    transform: str = "original"
    quality: int | None = None


@dataclass(frozen=True, slots=True)
class Match:
    """A bank's content item within its bank's rule of one of the query's hashes.

    It says which content matched and why (kind, distance, transform), never the bank's
    hash value: hash lists are sensitive, and a matcher has no need of them.
    """

    bank: str
    negative: bool
    content_id: int
    external_id: str | None
    labels: tuple[str, ...]
    kind: str
    distance: int
    transform: str
    query_hash: str
    #: For a video look-up: how much of the query and of the bank video matched, and where.
    video: VideoMatch | None = None
    #: For a local-features match: the box of the banked photo (or key frame) the query
    #: shows, (left, top, right, bottom) as shares of its width and height.
    covered: tuple[float, float, float, float] | None = None


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of the query that matched a stretch of the bank item, in seconds from
    each one's start (the bank side is None when the bank item is a photo)."""

    query_start: float
    query_end: float
    bank_start: float | None
    bank_end: float | None


@dataclass(frozen=True, slots=True)
class VideoMatch:
    query_share: float
    bank_share: float
    segments: tuple[Segment, ...]


@dataclass
class LookupResult:
    matches: list[Match] = field(default_factory=list)
    # Matches in negative banks: when present, `matches` is empty on purpose.
    suppressed_by: list[Match] = field(default_factory=list)
    #: Whether more matches were found than `match_cap` allows (the closest are kept).
    capped: bool = False
    match_cap: int = 0
