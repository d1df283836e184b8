"""`lykta watch` as a user types it: files and pipes at their real rate, --json match lines
that are the webhook's body, one-line errors."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lykta.app import Lykta
from lykta.cli import app
from tests.conftest import make_settings
from tests.ports import free_port
from tests.streams.media import video_item, write_clip


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder whose bank `known` holds a banked clip (scenes 100 and 101)."""
    home = tmp_path / "home"
    monkeypatch.setenv("LYKTA_HOME", str(home))
    monkeypatch.delenv("LYKTA_DATABASE_URL", raising=False)
    write_clip(tmp_path / "banked.mp4", [(100, 1.0), (101, 1.0)])
    core = Lykta.open(make_settings(home))
    core.banks.create("known")
    core.banks.create("other")
    core.banks.add_content("known", [video_item(tmp_path / "banked.mp4", "clip-a")])
    core.close()
    return home


def test_watch_prints_each_match_as_the_webhook_body(home: Path, tmp_path: Path) -> None:
    clip = tmp_path / "stream.mp4"
    write_clip(clip, [(1, 1.0), (100, 1.0), (101, 1.0)])
    result = CliRunner().invoke(
        app, ["watch", str(clip), "--json", "--bank", "known", "--id", "s1", "--subject", "u1"]
    )
    assert result.exit_code == 0, (result.stdout, result.stderr)
    [event] = [json.loads(line) for line in result.stdout.splitlines()]
    assert (event["event"], event["stream"], event["source"], event["id"]) == (
        "match",
        "s1",
        str(clip),
        "clip-a",
    )
    assert event["offset_s"] == pytest.approx(1.0, abs=0.15) and event["subject"] == "u1"
    assert "s1: ended" in result.stderr
    # Only the banks asked for: the same stream matches nothing in another bank.
    other = CliRunner().invoke(app, ["watch", str(clip), "--bank", "other", "--interval", "0.5"])
    assert other.exit_code == 0 and "MATCH" not in other.stdout


def test_watch_reads_a_pipe(home: Path, tmp_path: Path) -> None:
    clip = tmp_path / "stream.ts"
    write_clip(clip, [(100, 1.0), (2, 1.0)], format="mpegts")
    result = CliRunner().invoke(app, ["watch", "-"], input=clip.read_bytes())
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "MATCH at 0.0 s bank=known id=clip-a" in result.stdout


def test_watch_errors_are_one_line(home: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    bad_scheme = runner.invoke(app, ["watch", "ftp://example.org/x"])
    assert bad_scheme.exit_code == 1 and "unsupported scheme 'ftp'" in bad_scheme.stderr
    unknown_bank = runner.invoke(app, ["watch", "udp://127.0.0.1:9", "--bank", "nope"])
    assert unknown_bank.exit_code == 1 and "no bank named 'nope'" in unknown_bank.stderr
    missing = runner.invoke(app, ["watch", str(tmp_path / "missing.mp4")])
    assert missing.exit_code == 1 and "failed" in missing.stderr
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00\x01 not a video" * 100)
    corrupt = runner.invoke(app, ["watch", str(garbage)])
    assert corrupt.exit_code == 1 and "not a video" in corrupt.stderr
    for result in (bad_scheme, unknown_bank, missing, corrupt):
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_watch_stops_cleanly_on_ctrl_c_and_sigterm(home: Path, stop_signal: signal.Signals) -> None:
    port = free_port(socket.SOCK_DGRAM)
    process = subprocess.Popen(
        [sys.executable, "-m", "lykta", "watch", f"udp://127.0.0.1:{port}", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    try:
        # The watcher waits for a source that has not started.
        line = process.stderr.readline()
        assert line.strip() == f"udp://127.0.0.1:{port}: waiting", line
        process.send_signal(stop_signal)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert "stopping" in stderr and "Traceback" not in stderr and stdout == ""
