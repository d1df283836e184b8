"""What a stream to watch is (`StreamSpec`), how it is doing (`StreamStatus`), and what a
match found in it says (`StreamMatch`, the webhook body and `lykta watch --json` line)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from lykta.hashing.video import FrameVariant
from lykta.matching import LookupResult, Match

# Defaults every door shares (CLI options and API fields document them).
DEFAULT_INTERVAL = 1.0
DEFAULT_WAIT = 30.0
DEFAULT_READ_TIMEOUT = 10.0
# A match of the same bank item within this many seconds of stream time of the previous
# one in the same stream is the same episode: no new alert (see docs/streams.md).
DEFAULT_EPISODE_GAP = 30.0


class FrameLookup(Protocol):
    """Looks one frame's PDQ variants up (the core's `lookup_frame`); unknown bank names
    raise `NotFound`, so an empty look-up checks a bank filter."""

    def __call__(
        self, variants: Sequence[FrameVariant], *, banks: Iterable[str] | None = None
    ) -> LookupResult: ...


class StreamState(StrEnum):
    STARTING = "starting"  # the watcher thread is starting
    WAITING = "waiting"  # the source has not started yet; tried again every second
    WATCHING = "watching"  # frames are arriving
    RECONNECTING = "reconnecting"  # it dropped (or never started within the wait): backoff
    ENDED = "ended"  # a file or pipe reached its end
    FAILED = "failed"  # a file or pipe that cannot be read (missing, corrupt, unsupported)
    STOPPED = "stopped"  # stopped on request


FINAL_STATES = frozenset({StreamState.ENDED, StreamState.FAILED, StreamState.STOPPED})


@dataclass(frozen=True)
class StreamSpec:
    """One source to watch and what to do about it. `id` defaults to the source."""

    source: str
    id: str = ""
    banks: tuple[str, ...] | None = None
    webhook: str | None = None
    subject: str | None = None
    viewers: tuple[str, ...] = ()
    interval: float = DEFAULT_INTERVAL
    wait: float = DEFAULT_WAIT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    trim: bool = True
    episode_gap: float = DEFAULT_EPISODE_GAP
    # Files and pipes on this machine; the API leaves them off, so a token cannot make the
    # server read its own files.
    allow_local: bool = True

    @property
    def stream_id(self) -> str:
        return self.id or self.source


@dataclass
class StreamStatus:
    """A stream's live status; the watcher updates it, readers get copies."""

    id: str
    source: str
    subject: str | None
    viewers: tuple[str, ...]
    banks: tuple[str, ...] | None
    state: StreamState = StreamState.STARTING
    frames_read: int = 0
    sampled: int = 0
    hashed: int = 0
    # Match episodes: each one an alert and a webhook call.
    matches: int = 0
    # Seconds the newest frame was read behind real time (0 when keeping up).
    lag_s: float = 0.0
    # Seconds into the stream of the newest frame read, counted across reconnections.
    position_s: float = 0.0
    reconnects: int = 0
    decode_errors: int = 0
    last_error: str | None = None
    started_at: datetime | None = None
    last_frame_at: datetime | None = None


@dataclass(frozen=True)
class StreamMatch:
    """A banked item seen in a stream: what the alert records and the webhook says."""

    stream: str
    source: str
    offset_s: float
    match: Match
    subject: str | None
    viewers: tuple[str, ...]
    time: datetime

    def event(self, alert_id: int | None) -> dict[str, Any]:
        """The JSON object of the webhook body and of `lykta watch --json`."""
        return {
            "event": "match",
            "stream": self.stream,
            "source": self.source,
            "offset_s": round(self.offset_s, 3),
            "bank": self.match.bank,
            "id": self.match.external_id,
            "content_id": self.match.content_id,
            "labels": list(self.match.labels),
            "kind": self.match.kind,
            "distance": self.match.distance,
            "transform": self.match.transform,
            "subject": self.subject,
            "viewers": list(self.viewers),
            "alert_id": alert_id,
            "time": self.time.isoformat(),
        }
