"""Every match source raises alerts: photo and hash look-ups given a subject, a scan
(`lykta match --record`), a video (a live stream: tests/streams/test_stream_cases.py);
matches in negative banks never do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lykta.alerts import MatchSource
from lykta.app import Lykta
from lykta.cli import app
from lykta.errors import InvalidInput
from tests.conftest import make_photo
from tests.streams.media import video_item, write_clip


def test_photo_and_hash_look_ups_with_a_subject_record_alerts(sqlite_core: Lykta) -> None:
    core = sqlite_core
    core.banks.create("known")
    core.banks.create("fp", negative=True)
    known = core.add_media("known", make_photo(1), external_id="p1").hashes
    core.add_media("known", make_photo(2), external_id="p2")
    core.add_media("fp", make_photo(2), external_id="benign")
    core.load_index()

    core.lookup_photo(make_photo(1))  # no subject: nothing recorded
    assert core.alerts.list() == []
    found = core.lookup_photo(make_photo(1), source=MatchSource("user:1", "upload-9"))
    assert found.result.matches
    [photo] = core.alerts.list()
    assert (photo.source_kind, photo.source_id, photo.subject) == ("photo", "upload-9", "user:1")
    assert (photo.bank, photo.external_id, photo.distance) == ("known", "p1", 0)

    core.lookup_hash("pdq", known["pdq"], source=MatchSource("user:1"))
    [by_hash, _] = core.alerts.list()
    assert by_hash.source_id == f"pdq:{known['pdq']}" and by_hash.case_id == photo.case_id

    # A match the negative bank suppresses never alerts.
    suppressed = core.lookup_photo(make_photo(2), source=MatchSource("user:2"))
    assert suppressed.result.suppressed_by and core.alerts.list(subject="user:2") == []
    with pytest.raises(InvalidInput, match="needs a subject"):
        MatchSource(" ")


def test_a_video_match_records_a_video_alert(sqlite_core: Lykta, tmp_path: Path) -> None:
    core = sqlite_core
    core.banks.create("known")
    banked = tmp_path / "banked.mp4"
    write_clip(banked, [(100, 1.0), (101, 1.0), (102, 1.0)])

    core.banks.add_content("known", [video_item(banked, "clip-a")])
    core.load_index()
    upload = tmp_path / "upload.mp4"
    write_clip(upload, [(1, 1.0), (100, 1.0), (101, 1.0), (102, 1.0)])
    found = core.lookup_video(core.hash_video(upload), source=MatchSource("user:5", "vid-1"))
    assert [m.external_id for m in found.matches] == ["clip-a"]
    [video] = core.alerts.list()
    assert (video.source_kind, video.source_id, video.subject) == ("video", "vid-1", "user:5")
    assert video.offset_s == pytest.approx(1.0, abs=0.6)
    [case] = core.cases.queue()
    assert (case.top_source_kind, case.subject) == ("video", "user:5")


def test_lykta_match_records_with_a_subject(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LYKTA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LYKTA_DATABASE_URL", raising=False)
    runner = CliRunner()
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "known.jpg").write_bytes(make_photo(10))
    (photos / "other.jpg").write_bytes(make_photo(11))
    assert runner.invoke(app, ["bank", "create", "known"]).exit_code == 0
    added = runner.invoke(app, ["bank", "add", "known", str(photos / "known.jpg")])
    assert added.exit_code == 0, added.stderr

    refused = runner.invoke(app, ["match", "--record", str(photos)])
    assert refused.exit_code == 2  # lykta match's errors are 2: its 1 means "matched"
    assert "--record and --subject go together" in refused.stderr
    assert "Traceback" not in refused.stderr

    done = runner.invoke(app, ["match", "--record", "--subject", "acct-1", "--json", str(photos)])
    assert done.exit_code == 1, done.stderr  # something matched
    matched = [json.loads(line) for line in done.stdout.splitlines()]
    assert sum(bool(line["matches"]) for line in matched) == 1
    core = Lykta.open(sync=False)
    try:
        [recorded] = core.alerts.list()
        assert (recorded.subject, recorded.source_id) == ("acct-1", str(photos / "known.jpg"))
        assert recorded.case_id is not None
    finally:
        core.close()
