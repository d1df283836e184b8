"""`lykta exchange add/list/sync/status` against a local NCMEC-like server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lykta.cli import app
from tests.exchanges.conftest import ncmec_entries
from tests.exchanges.servers import NCMEC_PASSWORD, NCMEC_USER, NcmecState, ncmec_server


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LYKTA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LYKTA_DATABASE_URL", raising=False)
    monkeypatch.setenv("LYKTA_TEST_NCMEC", f"{NCMEC_USER}:{NCMEC_PASSWORD}")
    runner = CliRunner()

    def invoke(*args: str, code: int = 0):  # type: ignore[no-untyped-def]
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
        return result

    return invoke


@pytest.fixture
def ncmec() -> Iterator[tuple[NcmecState, str]]:
    state = NcmecState()
    for entry in ncmec_entries(1200):
        state.put(entry)
    with ncmec_server(state) as url:
        yield state, url


def lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_add_sync_status_list(run, ncmec: tuple[NcmecState, str]) -> None:  # type: ignore[no-untyped-def]
    _, url = ncmec
    config = json.dumps({"environment": "test_Industry", "base_url": url})
    [added] = lines(run("exchange", "add", "NCMEC", "ncmec", "--config", config,
                        "--credentials", "env:LYKTA_TEST_NCMEC", "--json").stdout)  # fmt: skip
    assert added["bank"] == "NCMEC" and added["api"] == "ncmec"
    assert added["credentials"] == "env:LYKTA_TEST_NCMEC"
    synced = run("exchange", "sync", "NCMEC", "--json")
    [result] = lines(synced.stdout)
    assert result["added"] == 1200 and result["items"] == 1200
    assert "NCMEC: " in synced.stderr and "items, up to" in synced.stderr  # progress
    [status] = lines(run("exchange", "status", "NCMEC", "--json").stdout)
    assert status["status"]["items"] == 1200 and status["status"]["last_succeeded"] is True
    listed = run("exchange", "list", "--json").stdout
    [row] = lines(listed)
    assert row["bank"] == "NCMEC" and row["status"]["up_to_date"] is True
    text = run("exchange", "list").stdout
    assert "NCMEC" in text and "ncmec" in text
    for output in (listed, text, synced.stdout, synced.stderr):
        assert NCMEC_PASSWORD not in output
    assert "items: 1200" in run("exchange", "status", "NCMEC").stdout
    assert "ncmec" in run("exchange", "apis").stdout


def test_errors_are_one_line_with_exit_code_1(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cases = [
        (("exchange", "add", "B", "nope"), "no exchange API named 'nope'"),
        (("exchange", "add", "B", "ncmec", "--config", "{bad"), "--config is not JSON"),
        (("exchange", "add", "B", "ncmec", "--config", '{"environment": "Mars"}'), "Mars"),
        (("exchange", "add", "B", "sample", "--credentials", "hunter2"), "env:VARIABLE"),
        (("exchange", "sync", "NOPE"), "no bank named 'NOPE'"),
        (("exchange", "status", "NOPE"), "no bank named 'NOPE'"),
    ]
    for args, message in cases:
        result = run(*args, code=1)
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
        assert "Traceback" not in result.stderr
    missing = tmp_path / "missing"
    run("exchange", "add", "B", "ncmec", "--config", '{"environment": "Industry"}',
        "--credentials", f"file:{missing}")  # fmt: skip
    result = run("exchange", "sync", "B", code=1)
    assert "not set or not readable" in result.stderr
    assert "last error" in run("exchange", "status", "B").stdout
