"""`lykta worker` processes sharing streams through the real NATS: a worker killed with
kill -9 has its stream taken over within 10 seconds, and its alert is written once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import nats
import pytest
from fastapi.testclient import TestClient

from lykta.alerts import AlertRepository
from lykta.api.main import create_app
from lykta.app import Lykta
from lykta.workers import StreamBoard
from lykta.workers.board import BUCKETS
from tests.conftest import Tokens, make_settings
from tests.ports import free_port
from tests.streams.media import video_item, write_clip
from tests.workers.test_worker import NATS_URL

BANKED = [(700, 1.0), (701, 1.0), (702, 1.0)]


def _board_call(fleet: str, method: str, *args: object) -> object:
    async def call() -> object:
        connection = await nats.connect(NATS_URL, connect_timeout=2, max_reconnect_attempts=0)
        try:
            board = await StreamBoard.open(connection, fleet=fleet)
            return await getattr(board, method)(*args)
        finally:
            await connection.close()

    return asyncio.run(call())


@pytest.fixture
def fleet() -> Iterator[str]:
    try:
        _board_call("probe_" + uuid.uuid4().hex[:6], "live_workers")
    except Exception as error:
        if os.environ.get("CI"):
            pytest.fail(f"NATS at {NATS_URL} is needed in CI: {error}")
        pytest.skip(f"NATS not reachable at {NATS_URL}")
    name = f"test_{uuid.uuid4().hex[:8]}"
    yield name

    async def drop() -> None:
        connection = await nats.connect(NATS_URL)
        js = connection.jetstream()
        for bucket in BUCKETS:
            with contextlib.suppress(Exception):
                await js.delete_key_value(name + bucket)
        await connection.close()

    asyncio.run(drop())


def _until(condition: Callable[[], object], seconds: float) -> float:
    """Seconds it took for ``condition()`` to hold; fails after ``seconds``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > seconds:
            pytest.fail(f"not within {seconds} s")
        time.sleep(0.1)
    return time.monotonic() - started


def test_a_killed_workers_stream_is_taken_over_and_alerts_once(tmp_path: Path, fleet: str) -> None:
    home = tmp_path / "home"
    clip = tmp_path / "banked.mp4"
    write_clip(clip, BANKED)
    core = Lykta.open(make_settings(home), sync=False)
    core.banks.create("known")
    core.banks.add_content("known", [video_item(clip, "banked-clip")])
    alerts = AlertRepository(core.sessions)
    # The stream plays the banked clip over and over, live over UDP: whoever watches it
    # sees it at once.
    port = free_port(socket.SOCK_DGRAM)
    stop_feed = threading.Event()
    feeder = threading.Thread(
        target=write_clip,
        args=(f"udp://127.0.0.1:{port}?pkt_size=1316", BANKED * 40),
        kwargs={"format": "mpegts", "realtime": True, "stop": stop_feed},
        daemon=True,
    )
    feeder.start()
    env = {**os.environ, "LYKTA_HOME": str(home), "LYKTA_NATS_URL": NATS_URL}
    env.pop("LYKTA_DATABASE_URL", None)
    workers = {
        name: subprocess.Popen(
            [sys.executable, "-m", "lykta", "worker", "--fleet", fleet, "--id", name],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / f"{name}.log").open("wb"),
        )
        for name in ("worker-a", "worker-b")
    }
    try:
        _until(lambda: len(_live(fleet)) == 2, 60)
        spec = {"id": "cam-1", "source": f"udp://127.0.0.1:{port}"}
        assert _board_call(fleet, "add_spec", spec)
        _until(lambda: _board_call(fleet, "holder", "cam-1") is not None, 20)
        holder = str(_board_call(fleet, "holder", "cam-1"))
        _until(lambda: len(alerts.list(source_id="cam-1")) == 1, 30)

        workers[holder].send_signal(signal.SIGKILL)
        workers[holder].wait()
        survivor = next(name for name in workers if name != holder)

        def taken_over() -> bool:
            status = _status(fleet, "cam-1")
            return (
                _board_call(fleet, "holder", "cam-1") == survivor
                and status.get("worker") == survivor
                and status.get("state") == "watching"
            )

        assert _until(taken_over, 10) <= 10
        # The survivor watches the same banked clip from the start: the same episode.
        _until(lambda: _status(fleet, "cam-1").get("hashed", 0) >= 4, 20)
        assert len(alerts.list(source_id="cam-1")) == 1
    finally:
        stop_feed.set()
        for process in workers.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in workers.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        core.close()


def _live(fleet: str) -> list[str]:
    found = _board_call(fleet, "live_workers")
    assert isinstance(found, list)
    return found


def _status(fleet: str, stream_id: str) -> dict[str, Any]:
    found = _board_call(fleet, "status", stream_id)
    return found if isinstance(found, dict) else {}


def test_the_api_hands_streams_to_the_fleet(tmp_path: Path, fleet: str) -> None:
    core = Lykta.open(make_settings(tmp_path / "home", nats_url=NATS_URL, fleet=fleet))
    try:
        core.banks.create("known")
        curator = Tokens(core).header("curator")
        with TestClient(create_app(core, follow_changes=False)) as client:
            body = {"source": "rtmp://127.0.0.1:1935/live/room-9", "id": "room 9",
                    "bank": "known", "broadcaster": "user:9"}  # fmt: skip
            started = client.post("/api/v1/streams", json=body, headers=curator)
            assert started.status_code == 201, started.text
            assert started.json()["state"] == "starting"
            again = client.post("/api/v1/streams", json=body, headers=curator)
            assert again.status_code == 409
            unknown = client.post("/api/v1/streams", headers=curator,
                                  json={**body, "id": "x", "bank": "nope"})  # fmt: skip
            assert unknown.status_code == 404
            # No process of this server watches it: the spec waits on the board ...
            assert core.local_streams.list() == []
            stored = _board_call(fleet, "spec", "room 9")
            assert isinstance(stored, dict) and stored["subject"] == "user:9"
            assert stored["banks"] == ["known"] and "allow_local" not in stored
            # ... and the status a worker writes is what the API answers.
            status = {"state": "watching", "hashed": 12, "lag_s": 0.4, "worker": "w1"}
            _board_call(fleet, "put_status", "room 9", status)
            [listed] = client.get("/api/v1/streams", headers=curator).json()
            assert (listed["id"], listed["state"], listed["hashed"]) == ("room 9", "watching", 12)
            one = client.get(f"/api/v1/streams/{quote('room 9')}", headers=curator).json()
            assert one["lag_s"] == 0.4
            stopped = client.delete(f"/api/v1/streams/{quote('room 9')}", headers=curator)
            assert stopped.status_code == 200 and stopped.json()["state"] == "stopped"
            assert _board_call(fleet, "spec", "room 9") is None
            gone = client.get(f"/api/v1/streams/{quote('room 9')}", headers=curator)
            assert gone.status_code == 404
    finally:
        core.close()
