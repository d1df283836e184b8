"""An MD5 looked up over HTTP with the default kind (PDQ) is a 422 that names the kind to
pass, on the native route (hot path included) and the batch route."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Tokens

MD5 = "d41d8cd98f00b204e9800998ecf8427e"


def test_an_md5_without_kind_says_pass_kind_md5(client: TestClient, tokens: Tokens) -> None:
    header = tokens.header("matcher")
    answer = client.get("/api/v1/lookup", params={"hash": MD5}, headers=header)
    assert answer.status_code == 422
    assert "pass kind=md5" in answer.json()["detail"]
    assert client.get(
        "/api/v1/lookup", params={"hash": MD5, "kind": "md5"}, headers=header
    ).is_success
    batch = client.post("/api/v1/lookup/batch", json={"hashes": [{"hash": MD5}]}, headers=header)
    assert batch.status_code == 422 and "pass kind=md5" in batch.json()["detail"]
