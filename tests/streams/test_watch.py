"""Watching streams end to end over real protocols: a file read at its real rate, MPEG-TS
over UDP, HLS over HTTP and RTMP through nginx. Banked clips played into a stream alert and
call the signed webhook; unrelated streams do not; sources may start late, drop and come
back, or be corrupt without stopping the others."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import queue
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from lykta.app import Lykta
from lykta.streams import SIGNATURE_HEADER, StreamSpec, StreamState
from tests.ports import free_port
from tests.streams.conftest import Webhook, wait_until
from tests.streams.media import write_clip

SECRET = b"s3cret"


def _matches(core: Lykta) -> queue.Queue[dict[str, Any]]:
    found: queue.Queue[dict[str, Any]] = queue.Queue()
    core.local_streams.on_match(found.put)
    return found


def _state(core: Lykta, stream: str) -> StreamState:
    return core.local_streams.get(stream).state


def test_a_banked_clip_in_a_stream_alerts_once_and_calls_the_signed_webhook(
    watching_core: Lykta, webhook: Webhook, tmp_path: Path
) -> None:
    # Two unrelated seconds, then clip A: the alert is 2 s in.
    path = tmp_path / "live.mp4"
    write_clip(path, [(1, 1.0), (2, 1.0), (100, 1.0), (101, 1.0), (102, 1.0)])
    webhook.fail_first = 1  # the platform is down at first: the call is retried
    found = _matches(watching_core)
    watching_core.local_streams.add(
        StreamSpec(
            str(path), id="live-1", webhook=webhook.url, subject="user:9", viewers=("user:7",)
        )
    )
    event = found.get(timeout=30)
    assert (event["event"], event["stream"], event["source"]) == ("match", "live-1", str(path))
    assert (event["bank"], event["id"], event["subject"], event["viewers"]) == (
        "known",
        "clip-a",
        "user:9",
        ["user:7"],
    )
    assert event["offset_s"] == pytest.approx(2.0, abs=0.15)
    assert event["distance"] <= 31

    wait_until(lambda: len(webhook.accepted()) == 1)
    headers, body = webhook.accepted()[0]
    assert json.loads(body) == event
    expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER.lower()] == expected
    assert [status for _, _, status in webhook.calls] == [503, 200]  # retried, same body
    assert webhook.calls[0][1] == body

    wait_until(lambda: _state(watching_core, "live-1") == StreamState.ENDED)
    # Clip A matched at 2, 3 and 4 s: one episode, one alert.
    [alert] = watching_core.alerts.list(source_id="live-1")
    assert (alert.source_kind, alert.bank, alert.external_id, alert.id) == (
        "stream",
        "known",
        "clip-a",
        event["alert_id"],
    )
    assert alert.offset_s == pytest.approx(2.0, abs=0.15)
    assert (alert.subject, alert.viewers) == ("user:9", ("user:7",))
    status = watching_core.local_streams.get("live-1")
    assert (status.frames_read, status.sampled, status.hashed, status.matches) == (50, 5, 5, 1)
    assert found.empty()


def test_unrelated_content_and_known_false_positives_never_alert(
    watching_core: Lykta, tmp_path: Path
) -> None:
    path = tmp_path / "other.mp4"
    write_clip(path, [(5, 1.0), (300, 1.0), (301, 1.0)])  # the false positive is in `fp`
    found = _matches(watching_core)
    watching_core.local_streams.add(StreamSpec(str(path)))
    wait_until(lambda: _state(watching_core, str(path)) == StreamState.ENDED)
    assert watching_core.local_streams.get(str(path)).hashed == 3
    assert found.empty() and watching_core.alerts.list() == []


def _send_udp(port: int, scenes: list[tuple[int, float]], stop: threading.Event) -> None:
    write_clip(
        f"udp://127.0.0.1:{port}?pkt_size=1316", scenes, format="mpegts", realtime=True, stop=stop
    )


def test_a_udp_stream_started_after_the_watcher_is_caught_beside_a_corrupt_one(
    watching_core: Lykta, http_folder: tuple[Path, str]
) -> None:
    folder, base = http_folder
    (folder / "garbage.ts").write_bytes(os.urandom(200_000))
    port = free_port(socket.SOCK_DGRAM)
    found = _matches(watching_core)
    streams = watching_core.streams
    streams.add(StreamSpec(f"{base}/garbage.ts", id="corrupt", read_timeout=3))
    streams.add(StreamSpec(f"udp://127.0.0.1:{port}", id="udp", read_timeout=3))
    wait_until(lambda: _state(watching_core, "udp") == StreamState.WAITING)
    wait_until(lambda: streams.get("corrupt").last_error is not None)

    stop = threading.Event()
    sender = threading.Thread(
        target=_send_udp, args=(port, [(1, 1.0), (100, 1.0), (101, 1.0), (102, 1.0)], stop)
    )
    sender.start()
    try:
        event = found.get(timeout=30)
    finally:
        stop.set()
        sender.join()
    assert (event["stream"], event["id"]) == ("udp", "clip-a")
    assert 0.0 <= event["offset_s"] <= 2.0
    corrupt = streams.get("corrupt")
    assert corrupt.state == StreamState.RECONNECTING or corrupt.state == StreamState.WAITING
    assert "not a video" in (corrupt.last_error or "") and corrupt.frames_read == 0


def test_live_hls_over_http_started_after_the_watcher_is_caught(
    watching_core: Lykta, http_folder: tuple[Path, str]
) -> None:
    folder, base = http_folder
    found = _matches(watching_core)
    source = f"{base}/live/index.m3u8"
    watching_core.local_streams.add(StreamSpec(source, read_timeout=5))
    wait_until(lambda: watching_core.local_streams.get(source).last_error is not None)  # 404
    (folder / "live").mkdir()
    stop = threading.Event()
    writer = threading.Thread(
        target=write_clip,
        args=(folder / "live" / "index.m3u8", [(3, 1.0), (200, 1.0), (201, 1.0), (4, 2.0)]),
        kwargs={
            "format": "hls",
            "realtime": True,
            "stop": stop,
            "options": {"hls_time": "1", "hls_list_size": "0", "hls_flags": "temp_file"},
        },
    )
    writer.start()
    try:
        event = found.get(timeout=30)
    finally:
        stop.set()
        writer.join()
    assert (event["stream"], event["id"], event["source"]) == (source, "clip-b", source)
    assert watching_core.local_streams.get(source).state == StreamState.WATCHING


def test_rtmp_stream_that_drops_and_comes_back_is_reconnected(
    watching_core: Lykta, rtmp_server: str
) -> None:
    source = f"{rtmp_server}/alice"
    found = _matches(watching_core)
    watching_core.local_streams.add(StreamSpec(source, id="alice", read_timeout=3))
    wait_until(lambda: _state(watching_core, "alice") == StreamState.WAITING)

    write_clip(source, [(1, 1.0), (100, 1.0), (101, 1.0)], format="flv", realtime=True)
    first = found.get(timeout=30)
    assert (first["stream"], first["id"]) == ("alice", "clip-a")
    # The broadcaster dropped; it comes back with other content.
    wait_until(lambda: _state(watching_core, "alice") != StreamState.WATCHING)
    write_clip(source, [(2, 1.0), (200, 1.0), (201, 1.0), (3, 1.0)], format="flv", realtime=True)
    second = found.get(timeout=30)
    assert second["id"] == "clip-b" and second["offset_s"] > first["offset_s"]
    assert watching_core.local_streams.get("alice").reconnects >= 1
    assert {a.external_id for a in watching_core.alerts.list(source_id="alice")} == {
        "clip-a",
        "clip-b",
    }


def test_a_recording_played_again_after_the_episode_gap_alerts_again(
    watching_core: Lykta, tmp_path: Path
) -> None:
    path = tmp_path / "replayed.mp4"
    write_clip(path, [(100, 1.0), (101, 1.0), (6, 2.0), (100, 1.0)])
    found = _matches(watching_core)
    watching_core.local_streams.add(StreamSpec(str(path), episode_gap=2.5))
    wait_until(lambda: _state(watching_core, str(path)) == StreamState.ENDED)
    # Matches at 0 and 1 s are one episode; 4 s is 3 s after the last: a new one. The
    # dispatcher may still be recording the last when the stream ends.
    wait_until(lambda: found.qsize() >= 2, timeout=10)
    offsets = [found.get_nowait()["offset_s"] for _ in range(found.qsize())]
    assert offsets == [pytest.approx(0.0, abs=0.15), pytest.approx(4.0, abs=0.15)]
    assert len(watching_core.alerts.list(source_id=str(path))) == 2


def test_mpegts_over_http_is_watched_as_it_downloads(
    watching_core: Lykta, http_folder: tuple[Path, str]
) -> None:
    folder, base = http_folder
    write_clip(folder / "show.ts", [(7, 1.0), (200, 1.0), (201, 1.0)], format="mpegts")
    found = _matches(watching_core)
    watching_core.local_streams.add(StreamSpec(f"{base}/show.ts", id="show"))
    event = found.get(timeout=30)
    assert (event["stream"], event["id"]) == ("show", "clip-b")
    assert event["offset_s"] == pytest.approx(1.0, abs=0.15)
