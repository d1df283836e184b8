"""HMA's `tests/test_api.py`, ported (see conftest.py)."""

from __future__ import annotations

import io
from pathlib import Path

from fastapi.testclient import TestClient
from PIL import Image

from tests.api.hma_suite.conftest import IMAGES, HmaClient, deliberate


def test_status_response(client: HmaClient) -> None:
    """test_api.py::test_status_response. The rest of HMA's test fakes HMA's in-memory index
    cache (not loaded, stale); Lykta's index is loaded before it serves, so only the HTTP
    part that holds for both is ported."""
    response = client.get("/status")
    assert response.status_code == 200
    assert response.data == b"I-AM-ALIVE"


def test_status_live_always_alive(client: HmaClient) -> None:
    """test_api.py::test_status_live_always_alive (the index-state faking left out, as above)."""
    response = client.get("/status/live")
    assert response.status_code == 200
    assert response.data == b"I-AM-ALIVE"


def test_openapi_documentation_available(client: HmaClient) -> None:
    """test_api.py::test_openapi_documentation_available"""
    response = client.get("/openapi/openapi.json")
    assert response.status_code == 200
    assert response.is_json
    payload = response.get_json()
    assert payload is not None
    assert payload.get("info", {}).get("title") == "Open Media Match API"


def test_lookup_success(client: HmaClient, image_server: str, tmp_path: Path) -> None:
    """test_api.py::test_lookup_success (HMA builds its index first; Lykta's is always built)."""
    image_url = f"{image_server}/image1.jpg"
    get_resp = client.get(f"/m/lookup?url={image_url}")
    assert get_resp.status_code == 200

    # HMA re-saves the fetched image as a temporary JPEG and posts it
    image = Image.open(io.BytesIO(IMAGES["image1.jpg"]))
    f = tmp_path / "upload.jpg"
    image.save(f, format="JPEG")
    file_tuple = (str(f), str(f), "image/jpeg")
    resp = client.post("/m/lookup", data={"photo": file_tuple})
    assert resp.status_code == 200

    # It's not really a video, but MD5 is simple that we can fake it
    resp = client.post("/m/lookup", data={"video": file_tuple})
    assert resp.status_code == 200


@deliberate("every route needs a token: a call without one gets 401, not HMA's 403")
def test_lookup_without_role(test_client: TestClient, image_server: str, tmp_path: Path) -> None:
    """test_api.py::test_lookup_without_role. HMA turns its hasher role off; Lykta has no
    roles, and every token scope may look up, so the closest call is one without a token."""
    client = HmaClient(test_client, None)
    image_url = f"{image_server}/image1.jpg"
    get_resp = client.get(f"/m/lookup?url={image_url}")
    assert get_resp.status_code == 403

    f = tmp_path / "tiny.jpg"
    f.write_bytes(
        b"\xff\xd8\xff\xe0\x00\x10\x4a\x46\x49\x46\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
    )
    files = {"file": (str(f), str(f), "image/jpeg")}
    resp = client.post("/m/lookup", data=files)
    assert resp.status_code == 403


def test_exchange_api_set_auth(client: HmaClient) -> None:
    """test_api.py::test_exchange_api_set_auth (HMA installs the sample and ThreatExchange
    APIs; Lykta would offer them itself)."""
    sample_name = "sample"
    tx_name = "fb_threatexchange"
    resp = client.get("/c/exchanges/apis")
    assert resp.status_code == 200
    assert {sample_name, tx_name} <= set(resp.json)

    resp = client.get(f"/c/exchanges/api/{sample_name}")
    assert resp.status_code == 200
    assert resp.json == {"supports_authentification": False, "has_set_authentification": False}

    resp = client.get(f"/c/exchanges/api/{tx_name}")
    assert resp.status_code == 200
    assert resp.json == {"supports_authentification": True, "has_set_authentification": False}

    resp = client.post(
        f"/c/exchanges/api/{tx_name}",
        json={"credential_json": {"api_token": "12345789|000000000000"}},
    )
    assert resp.status_code == 200
    assert resp.json == {"supports_authentification": True, "has_set_authentification": True}

    resp = client.get(f"/c/exchanges/api/{tx_name}")
    assert resp.status_code == 200
    assert resp.json == {"supports_authentification": True, "has_set_authentification": True}

    resp = client.post(f"/c/exchanges/api/{tx_name}", json={"credential_json": {}})
    assert resp.status_code == 200
    assert resp.json == {"supports_authentification": True, "has_set_authentification": False}


def test_exchange_api_schema(client: HmaClient) -> None:
    """test_api.py::test_exchange_api_schema"""
    resp = client.get("/c/exchanges/api/sample/schema")
    assert resp.status_code == 200
    data = resp.get_json()
    assert isinstance(data, dict)
    assert "fields" in data["config_schema"]
    assert data["credentials_schema"] is None

    resp = client.get("/c/exchanges/api/fb_threatexchange/schema")
    assert resp.status_code == 200
    data = resp.get_json()
    assert isinstance(data, dict)
    config_fields = {f["name"]: f for f in data["config_schema"]["fields"]}
    assert config_fields["privacy_group"]["type"] == "number"
    assert config_fields["privacy_group"]["required"] is True
    cred_fields = {f["name"]: f for f in data["credentials_schema"]["fields"]}
    assert cred_fields["api_token"]["type"] == "string"


def test_compare_hashes(client: HmaClient) -> None:
    """test_api.py::test_compare_hashes"""
    specimen1 = "facd8bcb2a49bcebdec1985298d5fe84bcd006c187c598c720c3c087b3fdb318"
    specimen2 = "facd8bcb2a49bcebdec1985228d5ae84bcd006c187c598c720c2b087b3fdb318"
    # Happy path
    resp = client.post("/m/compare", json={"pdq": [specimen1, specimen2]})
    assert resp.json == {"pdq": [True, {"distance": 9}]}

    bad_inputs: list[object] = [
        ["banana"],  # not a dict
        {"pdq": "banana"},  # values are not lists
        {"pdq": []},  # list of comparison hashes is empty
        {"pdq": ["banana", "banana"]},  # hashes are invalid
        {"pdq": [specimen1, specimen2, specimen1]},  # too many hashes (must be exactly 2)
    ]
    for bad_input in bad_inputs:
        resp = client.post("/m/compare", json=bad_input)
        assert resp.status_code == 400


def test_exchange_delete(client: HmaClient) -> None:
    """test_api.py::test_exchange_delete"""
    delete_response = client.delete("/c/exchange/TEST_EXCHANGE")
    assert delete_response.status_code == 200  # deleting an unknown exchange succeeds

    post_response = client.post(
        "/c/exchanges", json={"api": "sample", "bank": "FOO_EXCHANGE", "api_json": {}}
    )
    assert post_response.status_code == 201

    delete_response = client.delete("/c/exchange/FOO_EXCHANGE")
    assert delete_response.status_code == 200
    assert delete_response.get_json()["message"] == "Exchange deleted"


def test_exchange_get_fetch_status(client: HmaClient) -> None:
    """test_api.py::test_exchange_get_fetch_status"""
    resp = client.get("/c/exchange/NONEXISTENT_EXCHANGE/status")
    assert resp.status_code == 404

    post_resp = client.post(
        "/c/exchanges", json={"api": "sample", "bank": "BAR_EXCHANGE", "api_json": {}}
    )
    assert post_resp.status_code == 201

    resp = client.get("/c/exchange/BAR_EXCHANGE/status")
    assert resp.status_code == 200
    assert resp.is_json
    data = resp.get_json()
    for key in (
        "checkpoint_ts",
        "running_fetch_start_ts",
        "last_fetch_complete_ts",
        "last_fetch_succeeded",
        "up_to_date",
        "fetched_items",
    ):
        assert key in data
