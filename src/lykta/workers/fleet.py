"""The streams API of a server whose streams a fleet of workers watches.

With ``LYKTA_NATS_URL`` set, `POST /api/v1/streams` puts the stream on the fleet's board
instead of watching it in the server; the workers share it out, and the status they write
answers `GET`. Same methods and answers as the in-process supervisor, so the routes do not
know which one they talk to. NATS is asyncio; the routes are not: calls run on one event
loop thread of this object's own.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from datetime import datetime
from typing import Any, TypeVar

import nats
from nats.aio.client import Client

from lykta.errors import Conflict, LyktaError, NotFound
from lykta.streams import StreamSpec, StreamState, StreamStatus
from lykta.streams.base import FrameLookup
from lykta.streams.supervisor import validate_spec
from lykta.workers.board import StreamBoard

T = TypeVar("T")

# How long an API call waits for NATS before it answers 503.
CALL_SECONDS = 10.0


class FleetUnavailable(LyktaError):
    """The fleet's NATS does not answer: try again (HTTP 503)."""

    status_code = 503


class FleetStreams:
    def __init__(self, url: str, fleet: str, lookup: FrameLookup) -> None:
        self._url = url
        self._fleet = fleet
        self._lookup = lookup
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="lykta-fleet", daemon=True
        )
        self._thread.start()
        self._connection: Client | None = None
        self._board: StreamBoard | None = None

    def add(self, spec: StreamSpec) -> StreamStatus:
        validate_spec(spec, self._lookup)
        data = spec.to_json()
        if not self._call(self._board_call("add_spec", data)):
            raise Conflict(f"stream {spec.stream_id!r} is already being watched")
        return _pending(spec)

    def remove(self, stream_id: str) -> StreamStatus:
        status = self.get(stream_id)
        self._call(self._board_call("remove_spec", stream_id))
        status.state = StreamState.STOPPED
        return status

    def get(self, stream_id: str) -> StreamStatus:
        spec = self._call(self._board_call("spec", stream_id))
        if spec is None:
            raise NotFound(f"no stream {stream_id!r}")
        return self._status_of(spec, self._call(self._board_call("status", stream_id)))

    def list(self) -> list[StreamStatus]:
        specs: dict[str, dict[str, Any]] = self._call(self._board_call("specs"))
        return [
            self._status_of(spec, self._call(self._board_call("status", stream_id)))
            for stream_id, spec in sorted(specs.items())
        ]

    def close(self) -> None:
        if self._connection is not None:
            self._call(self._connection.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    # --- plumbing --------------------------------------------------------------------------

    def _status_of(self, spec: dict[str, Any], status: dict[str, Any] | None) -> StreamStatus:
        pending = _pending(StreamSpec.from_json(spec))
        if status is None:
            return pending
        for name in ("frames_read", "sampled", "hashed", "second_path", "matches", "lag_s",
                     "position_s", "reconnects", "decode_errors", "last_error"):  # fmt: skip
            if name in status:
                setattr(pending, name, status[name])
        pending.state = StreamState(status.get("state", pending.state))
        for moment in ("started_at", "last_frame_at"):
            if status.get(moment):
                setattr(pending, moment, datetime.fromisoformat(status[moment]))
        return pending

    async def _board_call(self, method: str, *args: Any) -> Any:
        if self._board is None:
            self._connection = await nats.connect(
                self._url, connect_timeout=5, max_reconnect_attempts=-1
            )
            self._board = await StreamBoard.open(self._connection, fleet=self._fleet)
        return await getattr(self._board, method)(*args)

    def _call(self, work: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(work, self._loop)
        try:
            return future.result(CALL_SECONDS)
        except LyktaError:
            raise
        except Exception as error:
            future.cancel()
            raise FleetUnavailable(f"the worker fleet's NATS does not answer: {error}") from None


def _pending(spec: StreamSpec) -> StreamStatus:
    """A stream no worker has reported on yet."""
    return StreamStatus(
        id=spec.stream_id,
        source=spec.source,
        subject=spec.subject,
        viewers=spec.viewers,
        banks=spec.banks,
        state=StreamState.STARTING,
    )
