"""Workers share streams through the real NATS JetStream: each stream watched by exactly
one worker, a dead worker's streams taken over, removed streams stopped."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import nats
import pytest
from nats.aio.client import Client

from lykta.workers import StreamBoard, Worker, preferred_worker
from lykta.workers.board import BUCKETS

NATS_URL = os.environ.get("LYKTA_TEST_NATS_URL", "nats://127.0.0.1:4222")
LEASE = 1.5  # short leases keep the takeover tests quick
ROUND = 0.25

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Runner:
    """The streams this worker process runs, as a list (no streams are decoded here)."""

    def __init__(self) -> None:
        self.running: set[str] = set()

    def start(self, spec: Mapping[str, Any]) -> None:
        self.running.add(spec["id"])

    def stop(self, stream_id: str) -> None:
        self.running.discard(stream_id)

    def status(self, stream_id: str) -> Mapping[str, Any] | None:
        return {"id": stream_id, "state": "watching"} if stream_id in self.running else None


@pytest.fixture
async def connection() -> AsyncIterator[Client]:
    try:
        client = await nats.connect(NATS_URL, connect_timeout=2, max_reconnect_attempts=0)
    except Exception as error:
        if os.environ.get("CI"):
            pytest.fail(f"NATS at {NATS_URL} is needed in CI: {error}")
        pytest.skip(f"NATS not reachable at {NATS_URL}")
    yield client
    await client.close()


@pytest.fixture
async def prefix(connection: Client) -> AsyncIterator[str]:
    name = f"test_{uuid.uuid4().hex[:8]}"
    yield name
    js = connection.jetstream()
    for bucket in BUCKETS:
        with contextlib.suppress(Exception):
            await js.delete_key_value(name + bucket)


async def board(connection: Client, prefix: str) -> StreamBoard:
    return await StreamBoard.open(connection, lease_seconds=LEASE, fleet=prefix)


async def until(condition: Callable[[], bool | Awaitable[bool]], seconds: float) -> None:
    async def wait() -> None:
        while True:
            outcome = condition()
            if outcome if isinstance(outcome, bool) else await outcome:
                return
            await asyncio.sleep(0.05)

    await asyncio.wait_for(wait(), seconds)


def run(worker: Worker) -> tuple[asyncio.Event, asyncio.Task[None]]:
    stop = asyncio.Event()
    return stop, asyncio.create_task(worker.run(stop))


async def test_each_stream_is_watched_by_exactly_one_worker(
    connection: Client, prefix: str
) -> None:
    shared = await board(connection, prefix)
    ids = [f"rtmp://127.0.0.1/live/{n}" for n in range(6)]
    for stream_id in ids:
        assert await shared.add_spec({"id": stream_id, "source": stream_id})
    assert not await shared.add_spec({"id": ids[0], "source": "again"})
    for name in ("w0", "w1"):  # both live before either claims: each takes its first choices
        await shared.heartbeat(name, {})
    runners = [Runner(), Runner()]
    workers = [Worker(await board(connection, prefix), r, f"w{n}", round_seconds=ROUND)
               for n, r in enumerate(runners)]  # fmt: skip
    tasks = [run(worker) for worker in workers]
    await until(lambda: len(runners[0].running | runners[1].running) == 6, 10)
    await asyncio.sleep(3 * ROUND)
    for n, runner in enumerate(runners):
        assert runner.running == {s for s in ids if preferred_worker(s, ["w0", "w1"]) == f"w{n}"}
        assert {await shared.holder(s) for s in runner.running} <= {f"w{n}"}
    assert (await shared.status(ids[0]) or {}).get("state") == "watching"
    for stop, task in tasks:
        stop.set()
        await task
    assert await shared.live_workers() == []
    assert {await shared.holder(s) for s in ids} == {None}  # released on leaving


async def test_a_dead_workers_streams_are_taken_over(connection: Client, prefix: str) -> None:
    shared = await board(connection, prefix)
    for n in range(4):
        await shared.add_spec({"id": f"s{n}", "source": f"udp://127.0.0.1:{5000 + n}"})
    doomed, survivor = Runner(), Runner()
    w0 = Worker(await board(connection, prefix), doomed, "w0", round_seconds=ROUND)
    w1 = Worker(await board(connection, prefix), survivor, "w1", round_seconds=ROUND)
    dead = asyncio.create_task(_rounds_until_cancelled(w0))
    stop, task = run(w1)
    await until(lambda: len(doomed.running | survivor.running) == 4 and bool(doomed.running), 10)
    dead.cancel()  # dies without handing anything back, as kill -9 would
    loop = asyncio.get_running_loop()
    died_at = loop.time()
    await until(lambda: len(survivor.running) == 4, 10)
    assert loop.time() - died_at <= LEASE + 4 * ROUND + 2.5
    stop.set()
    await task


async def _rounds_until_cancelled(worker: Worker) -> None:
    while True:
        await worker.step()
        await asyncio.sleep(ROUND)


async def test_a_removed_stream_is_stopped_and_released(connection: Client, prefix: str) -> None:
    shared = await board(connection, prefix)
    await shared.add_spec({"id": "only", "source": "x"})
    runner = Runner()
    stop, task = run(Worker(await board(connection, prefix), runner, "w0", round_seconds=ROUND))
    await until(lambda: runner.running == {"only"}, 10)
    assert await shared.remove_spec("only")
    assert not await shared.remove_spec("only")
    await until(lambda: not runner.running, 10)
    assert await shared.holder("only") is None
    stop.set()
    await task


async def test_a_worker_that_lost_its_lease_stops_the_stream(
    connection: Client, prefix: str
) -> None:
    shared = await board(connection, prefix)
    await shared.add_spec({"id": "s", "source": "x"})
    runner = Runner()
    worker = Worker(await board(connection, prefix), runner, "w0", round_seconds=ROUND)
    await worker.step()
    assert runner.running == {"s"}
    await asyncio.sleep(LEASE + 1.5)  # the worker stalled past its lease ...
    assert await shared.claim("s", "w1") is not None  # ... and another took the stream
    await worker.step()
    assert runner.running == set() and await shared.holder("s") == "w1"


def test_streams_spread_over_workers_by_rendezvous_hashing() -> None:
    workers = ["a", "b", "c"]
    chosen = [preferred_worker(f"stream-{n}", workers) for n in range(300)]
    assert all(80 <= chosen.count(w) <= 120 for w in workers)
    # removing a worker moves only its own streams
    after = [preferred_worker(f"stream-{n}", ["a", "b"]) for n in range(300)]
    assert all(a == b for a, b in zip(chosen, after, strict=True) if a != "c")
    assert preferred_worker("s", []) is None
