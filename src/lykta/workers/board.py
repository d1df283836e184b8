"""Which worker watches which stream, held in NATS JetStream key-value buckets.

Four buckets per fleet (named after it: ``LYKTA_FLEET``, "lykta" by default, so fleets
on one NATS stay apart), all created on first use:

- ``lykta_streams``: what to watch, one key per stream (its spec as JSON); written by the
  API, read by every worker;
- ``lykta_stream_leases``: who watches it, one key per stream holding the worker's id.
  A lease is taken with an atomic create and renewed with a compare-and-set on its
  revision; the bucket's TTL drops a lease its worker stopped renewing (it died), and
  another worker's create then succeeds. A compare-and-set that fails means the lease was
  lost: that worker stops the stream, so no stream is ever watched twice for long;
- ``lykta_workers``: live workers, each renewing its key; the same TTL forgets the dead;
- ``lykta_stream_status``: each stream's last status, written by its worker, so the API
  of any replica can answer ``GET /api/v1/streams``.

Keys are the stream ids hex-encoded: ids are URLs and names, which KV keys cannot hold.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import Any

from nats.aio.client import Client
from nats.js.api import KeyValueConfig
from nats.js.errors import (
    BucketNotFoundError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    NoKeysError,
)
from nats.js.kv import KeyValue

# Bucket names after the fleet's name: "lykta_streams", "lykta_stream_leases", ...
BUCKETS = (SPECS, LEASES, WORKERS, STATUS) = (
    "_streams",
    "_stream_leases",
    "_workers",
    "_stream_status",
)
DEFAULT_FLEET = "lykta"

# A lease or heartbeat not renewed for this long is gone. Workers renew every second, so
# a live worker survives a few missed rounds, and a dead one's streams are free again
# within this many seconds (plus one round to claim them).
LEASE_SECONDS = 4.0


def stream_key(stream_id: str) -> str:
    return stream_id.encode().hex()


def stream_id_of(key: str) -> str:
    return bytes.fromhex(key).decode()


class StreamBoard:
    """The shared state of a fleet of workers, over one NATS connection."""

    def __init__(
        self, specs: KeyValue, leases: KeyValue, workers: KeyValue, status: KeyValue
    ) -> None:
        self._specs = specs
        self._leases = leases
        self._workers = workers
        self._status = status

    @classmethod
    async def open(
        cls, connection: Client, *, fleet: str = DEFAULT_FLEET, lease_seconds: float = LEASE_SECONDS
    ) -> StreamBoard:
        """The fleet's buckets (made if missing)."""
        js = connection.jetstream()
        buckets = []
        for name, ttl in ((SPECS, None), (LEASES, lease_seconds), (WORKERS, lease_seconds),
                          (STATUS, 6 * lease_seconds)):  # fmt: skip
            try:
                buckets.append(await js.key_value(fleet + name))
            except BucketNotFoundError:
                config = KeyValueConfig(bucket=fleet + name, ttl=ttl, history=1)
                buckets.append(await js.create_key_value(config))
        return cls(*buckets)

    # --- what to watch -------------------------------------------------------------------

    async def put_spec(self, spec: Mapping[str, Any]) -> None:
        await self._specs.put(stream_key(spec["id"]), json.dumps(spec).encode())

    async def add_spec(self, spec: Mapping[str, Any]) -> bool:
        """Add a stream unless one with its id is there already; False when it is."""
        try:
            await self._specs.create(stream_key(spec["id"]), json.dumps(spec).encode())
        except KeyWrongLastSequenceError:
            return False
        return True

    async def remove_spec(self, stream_id: str) -> bool:
        if await self.spec(stream_id) is None:
            return False
        await self._specs.purge(stream_key(stream_id))
        return True

    async def spec(self, stream_id: str) -> dict[str, Any] | None:
        return await _json(self._specs, stream_key(stream_id))

    async def specs(self) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for key in await _keys(self._specs):
            value = await _json(self._specs, key)
            if value is not None:
                found[stream_id_of(key)] = value
        return found

    # --- who watches it ------------------------------------------------------------------

    async def claim(self, stream_id: str, worker: str) -> int | None:
        """Take the stream's lease; its revision, or None when another worker holds it."""
        try:
            return await self._leases.create(stream_key(stream_id), worker.encode())
        except KeyWrongLastSequenceError:
            return None

    async def renew(self, stream_id: str, worker: str, revision: int) -> int | None:
        """Renew a held lease; the new revision, or None when it was lost meanwhile."""
        try:
            return await self._leases.update(stream_key(stream_id), worker.encode(), last=revision)
        except KeyWrongLastSequenceError:
            return None

    async def release(self, stream_id: str, revision: int) -> None:
        # Lost already (another worker holds it): nothing of ours to release.
        with contextlib.suppress(KeyWrongLastSequenceError):
            await self._leases.delete(stream_key(stream_id), last=revision)

    async def holder(self, stream_id: str) -> str | None:
        try:
            entry = await self._leases.get(stream_key(stream_id))
        except KeyNotFoundError:
            return None
        return entry.value.decode() if entry.value else None

    async def heartbeat(self, worker: str, info: Mapping[str, Any]) -> None:
        await self._workers.put(worker.encode().hex(), json.dumps(info).encode())

    async def leave(self, worker: str) -> None:
        await self._workers.purge(worker.encode().hex())

    async def live_workers(self) -> list[str]:
        return sorted(bytes.fromhex(key).decode() for key in await _keys(self._workers))

    # --- how it goes ---------------------------------------------------------------------

    async def put_status(self, stream_id: str, status: Mapping[str, Any]) -> None:
        await self._status.put(stream_key(stream_id), json.dumps(status).encode())

    async def status(self, stream_id: str) -> dict[str, Any] | None:
        return await _json(self._status, stream_key(stream_id))

    async def drop_status(self, stream_id: str) -> None:
        await self._status.purge(stream_key(stream_id))


async def _keys(bucket: KeyValue) -> list[str]:
    try:
        return list(await bucket.keys())
    except NoKeysError:
        return []


async def _json(bucket: KeyValue, key: str) -> dict[str, Any] | None:
    try:
        entry = await bucket.get(key)
    except KeyNotFoundError:
        return None
    if not entry.value:
        return None
    value: dict[str, Any] = json.loads(entry.value)
    return value
