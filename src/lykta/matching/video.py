"""A video's matches from its frames' matches: which bank items, how much, and where.

Each sampled frame of the query is looked up like a photo; what comes back is every bank
hash within its bank's rule, with the time of the bank frame it belongs to. Per bank item
this module counts the share of query frames that matched, the share of the bank video's
time that the matching stretches cover, and the stretches (segments) themselves with times
on both sides. A bank item matches when either share reaches its bank's rule
(``Threshold.query_share`` / ``bank_share``): a 10-second excerpt of a banked video
matches by its own frames, a long upload containing a banked clip by the clip's.

The second path's key frames (local features, see ``lykta.hashing.video.KeyFrame``) are
aggregated the same way, as frames of their own: their matches' distance is an inlier
count, where more is closer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from lykta.banks.validation import Threshold
from lykta.hashing.registry import get_hasher
from lykta.matching.results import Match, Segment, VideoMatch

# A stretch goes on across at most this many unmatched query frames (a cut-away, a frame
# spoilt by an overlay) ...
MAX_SKIPPED_FRAMES = 2
# ... and while the bank side keeps pace with the query side within this many seconds: a
# still scene banked once holds for its whole length; a jump elsewhere starts a new stretch.
PACE_TOLERANCE = 2.0


@dataclass(frozen=True, slots=True)
class QueryFrame:
    """A sampled frame of the query: its time and its best quality over its variants."""

    seconds: float
    quality: int | None


@dataclass(frozen=True, slots=True)
class _Hit:
    frame: int
    match: Match
    bank_seconds: float | None


def aggregate(
    frames: Sequence[QueryFrame],
    hits: Sequence[Sequence[tuple[Match, float | None]]],
    *,
    interval: float,
    rule: Callable[[str], Threshold | None],
    bank_lengths: Mapping[int, float | None],
) -> list[Match]:
    """The bank items the query video matches, each with its ``VideoMatch``.

    ``hits[i]`` are frame ``i``'s matches with their bank frame times; ``interval`` is how
    far apart query frames were sampled (each stands for that long); ``rule(bank)`` the
    bank's PDQ rule; ``bank_lengths`` each video item's length in seconds.
    """
    by_item: dict[int, list[_Hit]] = {}
    for number, frame_hits in enumerate(hits):
        for match, seconds in frame_hits:
            by_item.setdefault(match.content_id, []).append(_Hit(number, match, seconds))
    found = []
    for content_id, item_hits in by_item.items():
        bank = item_hits[0].match.bank
        threshold = rule(bank)
        if threshold is None:
            continue
        counted = _countable(frames, threshold.min_quality)
        matched_frames = {hit.frame for hit in item_hits}
        query_share = min(1.0, len(matched_frames) / max(1, counted))
        segments = _segments(frames, item_hits)
        length = bank_lengths.get(content_id)
        bank_share = _bank_share(segments, length, interval)
        if query_share < threshold.query_share and bank_share < threshold.bank_share:
            continue
        best = min(item_hits, key=lambda hit: (_farness(hit.match), hit.match.transform))
        video = VideoMatch(round(query_share, 4), round(bank_share, 4), tuple(segments))
        found.append(replace(best.match, video=video))
    return found


def _farness(match: Match) -> int:
    """A match's distance, least closest: a local-features match's (its inlier count,
    where more is closer) turned round."""
    return -match.distance if get_hasher(match.kind).local_features else match.distance


def _countable(frames: Sequence[QueryFrame], min_quality: int | None) -> int:
    """Query frames that could match under a quality floor (vPDQ leaves the others out of
    both sides of its shares: a black frame says nothing)."""
    if min_quality is None:
        return len(frames)
    return sum(1 for frame in frames if frame.quality is None or frame.quality >= min_quality)


def _segments(frames: Sequence[QueryFrame], hits: Iterable[_Hit]) -> list[Segment]:
    by_frame: dict[int, list[_Hit]] = {}
    for hit in hits:
        by_frame.setdefault(hit.frame, []).append(hit)
    segments: list[Segment] = []
    run: list[tuple[float, float | None]] = []  # (query time, bank time) of the open stretch
    last_frame = -1
    for number in sorted(by_frame):
        at = frames[number].seconds
        choices = by_frame[number]
        if run and number - last_frame <= MAX_SKIPPED_FRAMES + 1:
            chosen = _keeping_pace(choices, run[-1], at)
            if chosen is not None:
                run.append((at, chosen.bank_seconds))
                last_frame = number
                continue
        if run:
            segments.append(_segment(run))
        best = min(choices, key=lambda hit: (_farness(hit.match), hit.bank_seconds or 0.0))
        run = [(at, best.bank_seconds)]
        last_frame = number
    if run:
        segments.append(_segment(run))
    return segments


def _keeping_pace(
    choices: Sequence[_Hit], last: tuple[float, float | None], at: float
) -> _Hit | None:
    """Of a frame's hits, the one whose bank time follows the stretch's pace, if any."""
    last_query, last_bank = last
    if last_bank is None:
        return next((hit for hit in choices if hit.bank_seconds is None), None)
    expected = last_bank + (at - last_query)
    pacing = [
        hit
        for hit in choices
        if hit.bank_seconds is not None
        and last_bank - PACE_TOLERANCE <= hit.bank_seconds <= expected + PACE_TOLERANCE
    ]
    if not pacing:
        return None
    return min(pacing, key=lambda hit: abs((hit.bank_seconds or 0.0) - expected))


def _segment(run: Sequence[tuple[float, float | None]]) -> Segment:
    banked = [bank for _, bank in run if bank is not None]
    return Segment(
        run[0][0],
        run[-1][0],
        min(banked) if banked else None,
        max(banked) if banked else None,
    )


def _bank_share(segments: Sequence[Segment], length: float | None, interval: float) -> float:
    """Share of the bank item's time the stretches cover, each query frame standing for
    ``interval`` seconds; a photo (no bank times) is wholly matched by any frame."""
    spans = sorted(
        (s.bank_start, s.bank_end + interval)
        for s in segments
        if s.bank_start is not None and s.bank_end is not None
    )
    if not spans:
        return 1.0 if segments else 0.0
    if not length or length <= 0:
        length = max(end for _, end in spans)
    covered = 0.0
    reach = 0.0
    for start, end in spans:
        start = max(start, reach)
        if end > start:
            covered += end - start
            reach = end
    return min(1.0, covered / length)
