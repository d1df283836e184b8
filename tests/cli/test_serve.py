"""`lykta serve` as an operator starts it: a bad port or host, or a port in use, is one line
and exit code 1 before anything loads; several workers start and stop cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from lykta.cli import app
from tests.ports import free_port


@pytest.fixture
def serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LYKTA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LYKTA_DATABASE_URL", raising=False)

    def invoke(*args: str) -> str:
        result = CliRunner().invoke(app, ["serve", *args])
        assert result.exit_code == 1, (result.stdout, result.stderr, result.exception)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr and "listening" not in result.stderr
        return result.stderr

    return invoke


def test_bad_ports_and_hosts_are_one_line(serve) -> None:  # type: ignore[no-untyped-def]
    assert "port 99999 (--port, LYKTA_PORT) must be between 1 and 65535" in serve("--port", "99999")
    assert "must be between 1 and 65535" in serve("--port", "0")
    assert "cannot listen on host 'no-such-host.invalid'" in serve("--host", "no-such-host.invalid")
    # A documentation-range address this machine does not have.
    assert "cannot listen on 192.0.2.1:" in serve("--host", "192.0.2.1", "--port", "8000")
    assert "at least 1" in serve("--workers", "0")


def test_a_port_in_use_is_one_line(serve) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        message = serve("--port", str(port))
    assert f"port {port} on 127.0.0.1 is already in use" in message


def test_two_workers_start_and_stop_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "LYKTA_HOME": str(tmp_path / "home"), "LYKTA_DATABASE_URL": ""}
    process = subprocess.Popen(
        [sys.executable, "-m", "lykta", "serve", "--host", "localhost", "--port", str(port),
         "--workers", "2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        # Let both workers finish starting before stopping them.
        time.sleep(3)
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "listening on http://localhost:" in output
    assert "Started worker-1" in output and "Started worker-2" in output
    for sign in ("died", "Traceback", "crash", "ERROR"):
        assert sign not in output, output


def test_settings_show_sources_and_warn_of_misspelt_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    monkeypatch.setenv("LYKTA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LYKTA_WORKRES", "4")
    result = CliRunner().invoke(app, ["settings", "--json"])
    assert result.exit_code == 0, result.stderr
    rows = {row["name"]: row for row in map(json.loads, result.stdout.splitlines())}
    assert rows["home"]["source"] == "env" and rows["port"]["source"] == "default"
    assert "LYKTA_WORKRES is not a Lykta setting" in result.stderr
    assert "did you mean LYKTA_WORKERS?" in result.stderr
