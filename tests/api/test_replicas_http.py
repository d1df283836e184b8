"""Two `lykta serve` processes on one PostgreSQL: a change made through one is served by the
other, and a bank disabled through one stops matching on the other as soon as it follows
the change log. (How soon a change arrives is bench/bench_replicas.py's figure.)"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lykta.app import Lykta
from lykta.auth.tokens import Scope
from tests.conftest import make_settings
from tests.ports import free_port

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


@pytest.fixture
def replicas(tmp_path: Path, postgres_schema_url: str) -> Iterator[tuple[str, str, str]]:
    core = Lykta.open(make_settings(tmp_path / "admin", database_url=postgres_schema_url))
    _, token = core.tokens.create(Scope.CURATOR, "test")
    core.close()
    servers, urls = [], []
    for name in ("a", "b"):
        port = free_port()
        env = {
            **os.environ, "LYKTA_HOME": str(tmp_path / name), "LYKTA_PORT": str(port),
            "LYKTA_DATABASE_URL": postgres_schema_url, "LYKTA_SYNC_INTERVAL": "0.2",
            "LYKTA_LOG_LEVEL": "warning",
        }  # fmt: skip
        servers.append(subprocess.Popen([sys.executable, "-m", "lykta", "serve"], env=env))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 60
        for url in urls:
            while True:
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "lykta serve did not start"
                time.sleep(0.2)
        yield urls[0], urls[1], token
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)


def test_changes_reach_the_other_replica(
    replicas: tuple[str, str, str],
) -> None:
    first, second, token = replicas
    auth = {"Authorization": f"Bearer {token}"}
    assert httpx.post(f"{first}/api/v1/banks", json={"name": "a"}, headers=auth).status_code == 201
    added = httpx.post(
        f"{first}/api/v1/banks/a/content", json={"hash": PDQ, "external_id": "x"}, headers=auth
    )
    assert added.status_code == 201
    # A generous deadline: only a change that never arrives fails, not a slow machine.
    deadline = time.monotonic() + 60
    while True:
        found = httpx.get(f"{second}/api/v1/lookup", params={"hash": PDQ}, headers=auth).json()
        if found["matches"]:
            break
        assert time.monotonic() < deadline, "replica b never saw the new hash"
        time.sleep(0.05)
    assert found["matches"][0]["external_id"] == "x"

    disabled = httpx.patch(f"{second}/api/v1/banks/a", json={"enabled": False}, headers=auth)
    assert disabled.status_code == 200
    deadline = time.monotonic() + 30
    while httpx.get(f"{first}/api/v1/lookup", params={"hash": PDQ}, headers=auth).json()["matches"]:
        assert time.monotonic() < deadline, "replica a kept matching a disabled bank"
        time.sleep(0.05)
