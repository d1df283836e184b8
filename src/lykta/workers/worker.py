"""A worker: watches its share of the fleet's streams and takes over those of dead workers.

Every round (a second) a worker renews its heartbeat and its leases, stops any stream
whose lease it lost or whose spec was removed, and claims streams nobody holds: at once
when it is the stream's preferred worker among the live ones (rendezvous hashing, so
streams spread evenly and each has one first choice), and after ``CLAIM_GRACE`` seconds
when it is not (the preferred one may be slow or just dead). A worker that dies stops
renewing; its leases lapse after ``LEASE_SECONDS`` and the next round hands them on, well
within ten seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Mapping
from typing import Any, Protocol

from lykta.workers.board import LEASE_SECONDS, StreamBoard

log = logging.getLogger(__name__)

ROUND_SECONDS = 1.0
CLAIM_GRACE = 1.0


class StreamRunner(Protocol):
    """What runs streams in this process (the streams supervisor)."""

    def start(self, spec: Mapping[str, Any]) -> None: ...

    def stop(self, stream_id: str) -> None: ...

    def status(self, stream_id: str) -> Mapping[str, Any] | None: ...


def new_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def preferred_worker(stream_id: str, workers: list[str]) -> str | None:
    """The stream's first choice among ``workers`` (highest rendezvous weight)."""
    if not workers:
        return None
    return max(workers, key=lambda w: hashlib.sha256(f"{w}\0{stream_id}".encode()).digest())


class Worker:
    def __init__(
        self,
        board: StreamBoard,
        runner: StreamRunner,
        worker_id: str | None = None,
        *,
        round_seconds: float = ROUND_SECONDS,
    ) -> None:
        self.board = board
        self.runner = runner
        self.id = worker_id or new_worker_id()
        self.round_seconds = round_seconds
        self.held: dict[str, int] = {}  # stream id -> lease revision
        self._unheld_since: dict[str, float] = {}
        self._failed: dict[str, Mapping[str, Any]] = {}  # streams that could not start

    async def run(self, stop: asyncio.Event) -> None:
        """Take part in the fleet until ``stop`` is set, then hand every stream back."""
        log.info("worker %s joining", self.id)
        try:
            while not stop.is_set():
                try:
                    await self.step()
                except Exception:  # NATS hiccup: leases have seconds to spare
                    log.exception("worker round failed; retrying")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.round_seconds)
        finally:
            await self.leave()

    async def step(self) -> None:
        board = self.board
        await board.heartbeat(self.id, {"streams": sorted(self.held), "at": time.time()})
        specs = await board.specs()
        for stream_id, revision in list(self.held.items()):
            renewed = (
                None if stream_id not in specs else await board.renew(stream_id, self.id, revision)
            )
            if renewed is None:
                why = "removed" if stream_id not in specs else "lease lost"
                log.info("worker %s stops %s (%s)", self.id, stream_id, why)
                await self._stop_local(stream_id)
                if stream_id not in specs:
                    await board.release(stream_id, revision)
                    await board.drop_status(stream_id)
                continue
            self.held[stream_id] = renewed
            status = await asyncio.to_thread(self.runner.status, stream_id)
            status = status or self._failed.get(stream_id)
            if status is not None:
                await board.put_status(stream_id, {**status, "worker": self.id})
        live = await board.live_workers()
        now = time.monotonic()
        for stream_id, spec in specs.items():
            if stream_id in self.held:
                continue
            if await board.holder(stream_id) is not None:
                self._unheld_since.pop(stream_id, None)
                continue
            since = self._unheld_since.setdefault(stream_id, now)
            first_choice = preferred_worker(stream_id, live) == self.id
            if not first_choice and now - since < CLAIM_GRACE:
                continue
            lease = await board.claim(stream_id, self.id)
            if lease is None:
                continue
            self._unheld_since.pop(stream_id, None)
            log.info("worker %s takes %s", self.id, stream_id)
            self.held[stream_id] = lease
            try:
                await asyncio.to_thread(self.runner.start, spec)
                # Say so at once: the API answers from this status.
                status = await asyncio.to_thread(self.runner.status, stream_id)
                if status is not None:
                    await board.put_status(stream_id, {**status, "worker": self.id})
            except Exception as error:
                # A spec that cannot start here cannot start elsewhere either: keep the
                # lease, so the fleet does not pass it round, and say why in its status.
                log.warning("worker %s cannot start %s: %s", self.id, stream_id, error)
                message = getattr(error, "message", str(error))
                self._failed[stream_id] = {"id": stream_id, "state": "failed",
                                           "last_error": message}  # fmt: skip
        for stream_id in set(self._unheld_since) - set(specs):
            del self._unheld_since[stream_id]

    async def leave(self) -> None:
        """Stop every stream here and release its lease, so others take over at once."""
        for stream_id, revision in list(self.held.items()):
            await self._stop_local(stream_id)
            try:
                await self.board.release(stream_id, revision)
            except Exception:
                log.warning("could not release %s; its lease lapses in %.0fs", stream_id,
                            LEASE_SECONDS)  # fmt: skip
        try:
            await self.board.leave(self.id)
        except Exception:
            log.warning("could not leave the fleet; the heartbeat lapses by itself")

    async def _stop_local(self, stream_id: str) -> None:
        self.held.pop(stream_id, None)
        self._failed.pop(stream_id, None)
        await asyncio.to_thread(self.runner.stop, stream_id)
