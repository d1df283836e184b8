"""A live stream's match is an alert that opens a case about its broadcaster."""

from __future__ import annotations

from pathlib import Path

from lykta.app import Lykta
from lykta.streams import StreamSpec, StreamState
from tests.streams.conftest import wait_until
from tests.streams.media import write_clip


def test_a_live_stream_match_opens_a_case_about_its_broadcaster(
    watching_core: Lykta, tmp_path: Path
) -> None:
    path = tmp_path / "live.mp4"
    write_clip(path, [(1, 1.0), (100, 1.0), (101, 1.0)])
    watching_core.local_streams.add(StreamSpec(str(path), id="live-1", subject="user:9"))
    wait_until(lambda: watching_core.local_streams.get("live-1").state == StreamState.ENDED)
    [stream_alert] = watching_core.alerts.list(source_id="live-1")
    [case] = watching_core.cases.queue()
    assert stream_alert.case_id == case.id
    assert (case.subject, case.top_source_kind, case.alert_count) == ("user:9", "stream", 1)
