"""`/api/v1/exchanges`: configure, list, sync in the background, follow the status."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from lykta.app import Lykta
from tests.conftest import Tokens
from tests.exchanges.conftest import ncmec_entries, pdq_of
from tests.exchanges.servers import NCMEC_PASSWORD, NCMEC_USER, NcmecState, ncmec_server


@pytest.fixture
def ncmec(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("LYKTA_TEST_NCMEC", f"{NCMEC_USER}:{NCMEC_PASSWORD}")
    state = NcmecState()
    for entry in ncmec_entries(1500):
        state.put(entry)
    with ncmec_server(state) as url:
        yield url


def test_configure_sync_and_follow(
    core: Lykta, client: TestClient, tokens: Tokens, ncmec: str
) -> None:
    curator = tokens.header("curator")
    body = {"bank": "NCMEC", "api": "ncmec", "credentials": "env:LYKTA_TEST_NCMEC",
            "config": {"environment": "test_Industry", "base_url": ncmec}}  # fmt: skip
    assert (
        client.post("/api/v1/exchanges", json=body, headers=tokens.header("matcher")).status_code
        == 403
    )
    created = client.post("/api/v1/exchanges", json=body, headers=curator)
    assert created.status_code == 201, created.text
    assert created.json()["credentials"] == "env:LYKTA_TEST_NCMEC"
    again = client.post("/api/v1/exchanges", json=body, headers=curator)
    assert again.status_code == 409 and "follows exchange" in again.json()["detail"]

    started = client.post("/api/v1/exchanges/NCMEC/sync", headers=curator)
    assert started.status_code == 202
    for _ in range(300):
        status = client.get("/api/v1/exchanges/NCMEC", headers=curator).json()["status"]
        if status["last_finished_at"] is not None and status["running_since"] is None:
            break
        time.sleep(0.1)
    assert status["last_succeeded"] is True and status["items"] == 1500, status
    assert core.lookup_hash("pdq", pdq_of(1)).matches
    listed = client.get("/api/v1/exchanges", headers=curator)
    assert [e["bank"] for e in listed.json()] == ["NCMEC"]
    assert NCMEC_PASSWORD not in listed.text

    assert client.delete("/api/v1/exchanges/NCMEC", headers=curator).status_code == 204
    assert client.get("/api/v1/exchanges/NCMEC", headers=curator).status_code == 404
    assert core.banks.get("NCMEC").content_count == 1500  # the bank keeps what it holds


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"bank": "B", "api": "nope"}, 400, "no exchange API named"),
        ({"bank": "B", "api": "ncmec", "config": {"environment": "Mars"}}, 400, "Mars"),
        ({"bank": "B", "api": "sample", "credentials": "hunter2"}, 400, "env:VARIABLE"),
        ({"bank": "B", "api": "sample", "config": {"base_url": "http://x"}}, 400, "base_url"),
    ],
)
def test_bad_exchanges_are_refused(
    client: TestClient, tokens: Tokens, body: dict[str, object], status: int, message: str
) -> None:
    response = client.post("/api/v1/exchanges", json=body, headers=tokens.header("curator"))
    assert response.status_code in (status, 422) and message in response.json()["detail"]
    assert "hunter2" not in response.text


def test_unknown_banks_are_404(client: TestClient, tokens: Tokens) -> None:
    curator = tokens.header("curator")
    for method, path in (("GET", "/api/v1/exchanges/NOPE"), ("POST", "/api/v1/exchanges/NOPE/sync"),
                         ("DELETE", "/api/v1/exchanges/NOPE")):  # fmt: skip
        response = client.request(method, path, headers=curator)
        assert response.status_code == 404, (path, response.text)
