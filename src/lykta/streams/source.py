"""Open a source with PyAV (which bundles FFmpeg) and read its video frames.

Every network read has a timeout (PyAV's interrupt callback), so a dead source raises
instead of blocking a watcher for ever. Files and pipes are local; network sources are
live: when one ends it has dropped, and is reconnected.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lykta.errors import InvalidInput
from lykta.media.video import decode_for_sampling

if TYPE_CHECKING:
    import av
    import av.container

NETWORK_SCHEMES = frozenset(
    {"rtmp", "rtmps", "rtsp", "rtsps", "http", "https", "udp", "rtp", "srt", "tcp"}
)
STDIN = "-"

# FFmpeg options per protocol: RTMP plays a live stream (waiting for its publisher); RTSP
# over TCP passes firewalls and loses no packets; a UDP reader must not die when a burst
# overruns its buffer.
PROTOCOL_OPTIONS: dict[str, dict[str, str]] = {
    "rtmp": {"rtmp_live": "live"},
    "rtmps": {"rtmp_live": "live"},
    "rtsp": {"rtsp_transport": "tcp"},
    "rtsps": {"rtsp_transport": "tcp"},
    "udp": {"overrun_nonfatal": "1", "fifo_size": "500000"},
}
# What an HLS playlist fetched from the network may reference: never this machine's files.
NETWORK_PROTOCOLS = "http,https,tcp,tls,crypto,udp,rtp,rtmp,rtmps,rtsp,rtsps,srt"


class SourceError(Exception):
    """The source could not be opened or read; `corrupt` when it answered with data that is
    not a video FFmpeg can decode (retrying a file will not help)."""

    def __init__(self, message: str, *, corrupt: bool = False) -> None:
        super().__init__(message)
        self.corrupt = corrupt


def scheme_of(source: str) -> str:
    """ "file", "pipe" or the URL scheme (lower case)."""
    if source == STDIN or source.startswith("pipe:"):
        return "pipe"
    head, separator, _ = source.partition("://")
    if separator and head.isascii() and head.replace("+", "").isalnum():
        return head.lower()
    return "file"


def is_local(source: str) -> bool:
    return scheme_of(source) in {"file", "pipe"}


def check_source(source: str, *, allow_local: bool) -> None:
    """Refuse a source Lykta cannot watch, or (without `allow_local`) one on this machine."""
    if not source.strip():
        raise InvalidInput("the source is empty")
    check_text("source", source)
    scheme = scheme_of(source)
    if scheme in {"file", "pipe"}:
        if not allow_local:
            raise InvalidInput(
                f"source {source!r} is not a network URL; the API watches "
                f"{', '.join(sorted(NETWORK_SCHEMES))} URLs only"
            )
        return
    if scheme not in NETWORK_SCHEMES:
        raise InvalidInput(
            f"source {source!r}: unsupported scheme {scheme!r}; use one of "
            f"{', '.join(sorted(NETWORK_SCHEMES))}, a file, or - for stdin"
        )


@dataclass
class OpenSource:
    """An opened source: its container and video stream."""

    container: av.container.InputContainer
    stream: av.VideoStream

    def frames(
        self,
        due: Callable[[], float],
        *,
        skip_unreferenced: bool,
        on_packet: Callable[[float | None], None],
        on_undecodable: Callable[[], None],
    ) -> Iterator[tuple[float | None, av.VideoFrame]]:
        """Decoded frames with their time in seconds (None when the stream gives none),
        leaving undecoded what no sample due at ``due()`` (stream time) can need; every
        packet is told to ``on_packet``, each one that cannot be decoded to
        ``on_undecodable`` (then skipped). See ``lykta.media.video.decode_for_sampling``."""
        for frame in decode_for_sampling(
            self.container,
            self.stream,
            due,
            skip_unreferenced=skip_unreferenced,
            on_packet=on_packet,
            on_undecodable=on_undecodable,
        ):
            yield (frame.time, frame)

    def close(self) -> None:
        self.container.close()


def open_source(
    source: str, *, open_timeout: float, read_timeout: float, allow_local: bool
) -> OpenSource:
    """Open `source` and find its video stream, or raise `SourceError` saying why."""
    import av  # here, not at the top: the core imports this module, few runs watch
    import av.container

    scheme = scheme_of(source)
    options = dict(PROTOCOL_OPTIONS.get(scheme, {}))
    if not allow_local:
        options["protocol_whitelist"] = NETWORK_PROTOCOLS
    target: object = sys.stdin.buffer if source == STDIN else source
    try:
        container = av.open(target, options=options, timeout=(open_timeout, read_timeout))
    except av.error.InvalidDataError as error:
        raise SourceError(f"not a video FFmpeg can read: {error}", corrupt=True) from None
    except av.error.PatchWelcomeError as error:
        raise SourceError(f"unsupported: {error}", corrupt=True) from None
    except (av.error.FFmpegError, OSError) as error:
        raise SourceError(_reason(error)) from None
    if not isinstance(container, av.container.InputContainer):
        raise SourceError("unsupported: not an input")  # av.open(mode "r") always is
    if not container.streams.video:
        container.close()
        raise SourceError("unsupported: the source has no video stream", corrupt=True)
    stream = container.streams.video[0]
    return OpenSource(container, stream)


def _reason(error: Exception) -> str:
    import av

    if isinstance(error, av.error.ExitError):
        return "no data within the timeout"
    text = getattr(error, "strerror", None) or str(error)
    return str(text)


def check_text(name: str, text: str, limit: int = 2048) -> None:
    """Refuse text that cannot be stored or handed to FFmpeg: too long, control
    characters, or not encodable as UTF-8."""
    if len(text) > limit:
        raise InvalidInput(f"{name} is longer than {limit} characters")
    if any(ord(char) < 32 for char in text):
        raise InvalidInput(f"{name} contains control characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{name} is not valid UTF-8 text") from None
