"""The supervisor as a worker drives it: specs and statuses as JSON, start and stop by id."""

from __future__ import annotations

import socket
from dataclasses import replace

import pytest

from lykta.app import Lykta
from lykta.errors import InvalidInput
from lykta.streams import StreamSpec
from tests.ports import free_port
from tests.streams.conftest import wait_until


def test_a_spec_survives_json_and_never_allows_local_files() -> None:
    spec = StreamSpec(
        "rtmp://ingest/live/a",
        id="a",
        banks=("known",),
        webhook="http://h/",
        subject="u",
        viewers=("v",),
        interval=0.5,
        wait=3,
        read_timeout=4,
        trim=False,
        episode_gap=9,
    )
    again = StreamSpec.from_json(spec.to_json())
    assert again == replace(spec, allow_local=False)
    with pytest.raises(InvalidInput, match="bad stream spec"):
        StreamSpec.from_json({"id": "no source"})
    with pytest.raises(InvalidInput, match="bad stream spec"):
        StreamSpec.from_json({"source": "udp://x", "interval": "often"})


def test_the_supervisor_runs_streams_for_a_worker(watching_core: Lykta) -> None:
    streams = watching_core.streams
    source = f"udp://127.0.0.1:{free_port(socket.SOCK_DGRAM)}"
    streams.start({"id": "w1", "source": source, "banks": ["known"], "later": "ignored"})
    wait_until(lambda: (streams.status("w1") or {}).get("state") == "waiting")
    status = streams.status("w1")
    assert status is not None and (status["id"], status["source"]) == ("w1", source)
    with pytest.raises(InvalidInput, match="not a network URL"):
        streams.start({"id": "w2", "source": "/etc/passwd"})
    streams.stop("w1")
    assert streams.status("w1") is None
    streams.stop("w1")  # stopping what is not watched is no error
