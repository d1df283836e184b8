"""Live streams: start watching one, list them with their status, stop one.

Starting and stopping need a curator token (a watcher uses the server's network and calls
the webhook it is given); reading the status, a matcher token. The watchers run in this
server process's threads (one `lykta serve` worker: see docs/streams.md).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from lykta.api.deps import Core, Curator, Matcher
from lykta.api.schemas import errors
from lykta.errors import InvalidInput
from lykta.outputs import StreamOut
from lykta.streams import StreamSpec
from lykta.streams.base import DEFAULT_EPISODE_GAP, DEFAULT_INTERVAL, DEFAULT_WAIT

router = APIRouter(prefix="/api/v1/streams", tags=["streams"], responses=errors(401, 403, 422))

NO_STREAM = errors(404, meanings={404: "no such stream"})
StreamId = Annotated[
    str, Path(description="the stream's id (URL-encode it: the default id is the source URL)")
]


class StreamIn(BaseModel):
    source: str = Field(
        description="rtmp://, rtmps://, rtsp://, http(s):// (HLS or MPEG-TS), udp://, rtp:// "
        "or srt:// URL; the API watches network sources only",
        json_schema_extra={"maxLength": 2048},
    )
    id: str | None = Field(default=None, description="the stream's id (default: the source)")
    banks: list[str] | None = Field(default=None, description="only these banks (default all)")
    bank: str | None = Field(default=None, description="one bank, as `banks: [bank]`")
    webhook: str | None = Field(
        default=None, description="http(s) URL to POST each match to (signed, retried)"
    )
    subject: str | None = Field(default=None, description="the broadcaster's account id")
    broadcaster: str | None = Field(default=None, description="the same as `subject`")
    viewers: list[str] = Field(default=[], description="viewers' account ids")
    interval: float = Field(
        default=DEFAULT_INTERVAL, gt=0, le=3600, description="stream seconds between samples"
    )
    wait: float = Field(
        default=DEFAULT_WAIT, ge=0, le=86400, description="seconds to wait for the source to "
        "start before backing off",
    )  # fmt: skip
    trim: bool = Field(default=True, description="also hash frames without their bars")
    episode_gap: float = Field(
        default=DEFAULT_EPISODE_GAP, ge=0, le=86400,
        description="seconds of stream after which a bank item's match alerts again",
    )  # fmt: skip

    def spec(self) -> StreamSpec:
        if self.subject and self.broadcaster and self.subject != self.broadcaster:
            raise InvalidInput("subject and broadcaster name the same account; give one")
        banks = [*(self.banks or ()), *([self.bank] if self.bank else [])]
        return StreamSpec(
            source=self.source, id=self.id or "",
            banks=tuple(banks) if self.banks is not None or self.bank else None,
            webhook=self.webhook, subject=self.subject or self.broadcaster,
            viewers=tuple(self.viewers), interval=self.interval, wait=self.wait,
            trim=self.trim, episode_gap=self.episode_gap, allow_local=False,
        )  # fmt: skip


@router.post(
    "",
    response_model=StreamOut,
    status_code=201,
    responses=errors(400, 404, 409, 413, meanings={404: "no such bank", 409: "the id is watched"}),
)
def start_stream(core: Core, _: Curator, body: StreamIn) -> StreamOut:
    return StreamOut.of(core.streams.add(body.spec()))


@router.get("", response_model=list[StreamOut])
def list_streams(core: Core, _: Matcher) -> list[StreamOut]:
    return [StreamOut.of(status) for status in core.streams.list()]


@router.get(
    "/{stream_id:path}",
    response_model=StreamOut,
    responses=NO_STREAM,
)
def get_stream(core: Core, _: Matcher, stream_id: StreamId) -> StreamOut:
    return StreamOut.of(core.streams.get(stream_id))


@router.delete(
    "/{stream_id:path}",
    response_model=StreamOut,
    responses=NO_STREAM,
)
def stop_stream(core: Core, _: Curator, stream_id: StreamId) -> StreamOut:
    """Stop watching the stream; answers its last status."""
    return StreamOut.of(core.streams.remove(stream_id))
