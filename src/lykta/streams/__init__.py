"""Live streams: read a source as it arrives, sample, hash and look up its frames, and tell
the platform at once when a banked recording is being played into it."""

from lykta.streams.base import StreamSpec, StreamState, StreamStatus
from lykta.streams.supervisor import StreamSupervisor
from lykta.streams.webhook import SIGNATURE_HEADER, sign

__all__ = [
    "SIGNATURE_HEADER",
    "StreamSpec",
    "StreamState",
    "StreamStatus",
    "StreamSupervisor",
    "sign",
]
