"""The streams routes: start, list, read and stop a watcher, with the scopes each needs; a
banked clip sent over UDP shows in the status and in the alerts."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from urllib.parse import quote

from fastapi.testclient import TestClient

from lykta.app import Lykta
from tests.conftest import Tokens
from tests.ports import free_port
from tests.streams.media import video_item, write_clip


def test_stream_lifecycle_with_scopes(
    client: TestClient, tokens: Tokens, core: Lykta, tmp_path: Path
) -> None:
    write_clip(tmp_path / "banked.mp4", [(100, 1.0), (101, 1.0)])
    core.banks.create("known")
    core.banks.add_content("known", [video_item(tmp_path / "banked.mp4", "clip-a")])
    port = free_port(socket.SOCK_DGRAM)
    body = {
        "source": f"udp://127.0.0.1:{port}",
        "id": "room 1",
        "bank": "known",
        "broadcaster": "user:1",
        "viewers": ["user:2"],
    }
    curator, matcher = tokens.header("curator"), tokens.header("matcher")

    assert client.post("/api/v1/streams", json=body).status_code == 401
    assert client.post("/api/v1/streams", json=body, headers=matcher).status_code == 403
    started = client.post("/api/v1/streams", json=body, headers=curator)
    assert started.status_code == 201, started.text
    assert started.json()["id"] == "room 1" and started.json()["subject"] == "user:1"
    assert started.json()["banks"] == ["known"]
    again = client.post("/api/v1/streams", json=body, headers=curator)
    assert again.status_code == 409 and "already being watched" in again.json()["detail"]
    refused = {
        "/etc/passwd": 422,  # never the server's own files
        "file:///etc/passwd": 422,
        "gopher://x": 422,
    }
    for source, status in refused.items():
        answer = client.post("/api/v1/streams", json={"source": source}, headers=curator)
        assert answer.status_code == status and answer.json()["detail"], source
    for extra, status in [
        ({"bank": "nope"}, 404),
        ({"webhook": "ftp://x"}, 422),
        ({"interval": 0}, 422),
    ]:
        answer = client.post(
            "/api/v1/streams", json={"source": "udp://127.0.0.1:9", **extra}, headers=curator
        )
        assert answer.status_code == status, (extra, answer.text)

    listed = client.get("/api/v1/streams", headers=matcher).json()
    assert [stream["id"] for stream in listed] == ["room 1"]
    path = f"/api/v1/streams/{quote('room 1')}"

    stop = threading.Event()
    sender = threading.Thread(
        target=write_clip,
        args=(f"udp://127.0.0.1:{port}?pkt_size=1316", [(1, 1.0), (100, 1.0), (101, 1.0)]),
        kwargs={"format": "mpegts", "realtime": True, "stop": stop},
    )
    sender.start()
    try:
        deadline = time.monotonic() + 30
        while client.get(path, headers=matcher).json()["matches"] == 0:
            assert time.monotonic() < deadline, client.get(path, headers=matcher).json()
            time.sleep(0.1)
    finally:
        stop.set()
        sender.join()
    status = client.get(path, headers=matcher).json()
    assert status["state"] == "watching" and status["hashed"] >= 1
    [alert] = core.alerts.list(source_id="room 1")
    assert (alert.external_id, alert.subject, alert.viewers) == ("clip-a", "user:1", ("user:2",))

    assert client.delete(path, headers=matcher).status_code == 403
    stopped = client.delete(path, headers=curator)
    assert stopped.status_code == 200 and stopped.json()["state"] == "stopped"
    assert client.get(path, headers=matcher).status_code == 404
    assert client.delete(path, headers=curator).status_code == 404
