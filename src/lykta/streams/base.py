"""What a stream to watch is (`StreamSpec`), how it is doing (`StreamStatus`), and what a
match found in it says (`StreamMatch`, the webhook body and `lykta watch --json` line)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

import numpy as np

from lykta.errors import InvalidInput
from lykta.hashing.video import FrameVariant
from lykta.matching import LookupResult, Match
from lykta.settings import (
    STREAM_EPISODE_GAP,
    STREAM_INTERVAL,
    STREAM_READ_TIMEOUT,
    STREAM_WAIT,
)

# Defaults every door shares (CLI options and API fields document them).
DEFAULT_INTERVAL = STREAM_INTERVAL
DEFAULT_WAIT = STREAM_WAIT
DEFAULT_READ_TIMEOUT = STREAM_READ_TIMEOUT
DEFAULT_EPISODE_GAP = STREAM_EPISODE_GAP


class FrameLookup(Protocol):
    """Looks one frame's PDQ variants up (the core's `lookup_frame`); with the frame's
    ``luma``, on the second path too where PDQ found nothing. Unknown bank names raise
    `NotFound`, so an empty look-up checks a bank filter."""

    def __call__(
        self,
        variants: Sequence[FrameVariant],
        *,
        banks: Iterable[str] | None = None,
        luma: np.ndarray | None = None,
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

    def to_json(self) -> dict[str, Any]:
        """The spec as a JSON object (as a queue of assignments carries it); `allow_local`
        stays out: a spec from elsewhere never reads this machine's files."""
        return {
            "source": self.source,
            "id": self.stream_id,
            "banks": None if self.banks is None else list(self.banks),
            "webhook": self.webhook,
            "subject": self.subject,
            "viewers": list(self.viewers),
            "interval": self.interval,
            "wait": self.wait,
            "read_timeout": self.read_timeout,
            "trim": self.trim,
            "episode_gap": self.episode_gap,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StreamSpec:
        """A spec from `to_json`'s object (network sources only); keys it does not know
        are ignored, so older workers read newer specs."""
        try:
            banks = data.get("banks")
            return cls(
                source=str(data["source"]),
                id=str(data.get("id") or ""),
                banks=None if banks is None else tuple(str(bank) for bank in banks),
                webhook=None if data.get("webhook") is None else str(data["webhook"]),
                subject=None if data.get("subject") is None else str(data["subject"]),
                viewers=tuple(str(viewer) for viewer in data.get("viewers") or ()),
                interval=float(data.get("interval", DEFAULT_INTERVAL)),
                wait=float(data.get("wait", DEFAULT_WAIT)),
                read_timeout=float(data.get("read_timeout", DEFAULT_READ_TIMEOUT)),
                trim=bool(data.get("trim", True)),
                episode_gap=float(data.get("episode_gap", DEFAULT_EPISODE_GAP)),
                allow_local=False,
            )
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidInput(f"bad stream spec: {type(error).__name__}: {error}") from None


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
    # Sampled frames offered to the second path (looked up there where PDQ found nothing).
    second_path: int = 0
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

    def as_json(self) -> dict[str, Any]:
        """The status as a JSON object: the API's body, a worker's report."""
        return {
            "id": self.id,
            "source": self.source,
            "state": self.state.value,
            "subject": self.subject,
            "viewers": list(self.viewers),
            "banks": None if self.banks is None else list(self.banks),
            "frames_read": self.frames_read,
            "sampled": self.sampled,
            "hashed": self.hashed,
            "second_path": self.second_path,
            "matches": self.matches,
            "lag_s": round(self.lag_s, 3),
            "position_s": round(self.position_s, 3),
            "reconnects": self.reconnects,
            "decode_errors": self.decode_errors,
            "last_error": self.last_error,
            "started_at": None if self.started_at is None else self.started_at.isoformat(),
            "last_frame_at": None if self.last_frame_at is None else self.last_frame_at.isoformat(),
        }


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
            "covered": None if self.match.covered is None else list(self.match.covered),
            "subject": self.subject,
            "viewers": list(self.viewers),
            "alert_id": alert_id,
            "time": self.time.isoformat(),
        }
