"""`lykta match --server`: the same records, text and exit status as a local match, from a
running `lykta serve` (a real one, in a subprocess) instead of an index loaded here."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from lykta.cli import app
from tests.conftest import make_photo
from tests.ports import free_port
from tests.videogen import write_video


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A server over a bank `known` holding photo `known.jpg`, at the URL it yields."""
    monkeypatch.setenv("LYKTA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LYKTA_DATABASE_URL", raising=False)
    monkeypatch.delenv("LYKTA_TOKEN", raising=False)
    (tmp_path / "known.jpg").write_bytes(make_photo(10))
    runner = CliRunner()
    assert runner.invoke(app, ["bank", "create", "known"]).exit_code == 0
    assert runner.invoke(app, ["bank", "add", "known", str(tmp_path / "known.jpg")]).exit_code == 0
    port = free_port()
    env = {**os.environ, "LYKTA_HOME": str(tmp_path / "home"), "LYKTA_DATABASE_URL": ""}
    process = subprocess.Popen(
        [sys.executable, "-m", "lykta", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)


def match(*args: str, code: int, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(app, ["match", *args], env=env)
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    return result


def test_match_against_a_running_server(server: str, tmp_path: Path) -> None:
    runner = CliRunner()
    created = runner.invoke(app, ["token", "create", "--scope", "matcher", "--json"])
    token = json.loads(created.stdout)["token"]
    other = tmp_path / "other.png"
    other.write_bytes(make_photo(11, fmt="PNG"))
    known = tmp_path / "known.jpg"

    result = match(str(known), str(other), "--server", server, "--json", code=1,
                   env={"LYKTA_TOKEN": token})  # fmt: skip
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["path"], [m["id"] for m in r["matches"]]) for r in records] == [
        (str(known), ["known"]),
        (str(other), []),
    ]
    assert set(records[0]) == {"path", "matches", "suppressed_by", "capped", "match_cap",
                               "warnings"}  # fmt: skip
    assert "2 file(s) checked: 1 matched" in result.stderr

    result = match(str(other), str(tmp_path / "missing.jpg"), "--server", server,
                   "--token", token, code=2)  # fmt: skip
    assert result.stdout == f"{other}\tno match\n"
    assert f"skipped {tmp_path / 'missing.jpg'}: cannot read" in result.stderr

    assert "needs a token" in match(str(known), "--server", server, code=2).stderr
    refused = match(str(known), "--server", server, "--token", "lykta_wrong", code=2).stderr
    assert refused.startswith(f"error: {server} answered 401")
    unknown = match(str(known), "--server", server, "--token", token, "--bank", "nope", code=2)
    assert "answered 404" in unknown.stderr and "nope" in unknown.stderr


def test_an_unreachable_server_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(make_photo(10))
    url = f"http://127.0.0.1:{free_port()}"
    result = match(str(tmp_path / "a.jpg"), "--server", url, "--token", "x", code=2)
    assert result.stderr.startswith(f"error: cannot reach {url}:")
    assert len(result.stderr.splitlines()) == 1


def test_videos_are_checked_against_the_server_too(server: str, tmp_path: Path) -> None:
    runner = CliRunner()
    clip = write_video(tmp_path / "clip.mp4", [81, 82])
    assert runner.invoke(app, ["bank", "add", "known", str(clip)]).exit_code == 0
    created = runner.invoke(app, ["token", "create", "--scope", "matcher", "--json"])
    token = json.loads(created.stdout)["token"]
    excerpt = write_video(tmp_path / "excerpt.mp4", [81, 82], start=2, end=8)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 200)

    # The server follows the change log: the banked clip reaches its index within a second.
    deadline = time.monotonic() + 20
    while True:
        result = CliRunner().invoke(
            app, ["match", str(excerpt), str(broken), "--server", server, "--token", token,
                  "--json"],
        )  # fmt: skip
        records = [json.loads(line) for line in result.stdout.splitlines()]
        if (records and records[0].get("matches")) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert result.exit_code == 1, result.stderr
    [match_] = records[0]["matches"]
    assert match_["id"] == "clip" and match_["query_share"] >= 0.9 and match_["segments"]
    assert records[1]["path"] == str(broken) and "error" in records[1]
