"""HMA's `tests/test_match_api.py`, ported (see conftest.py). HMA fills its banks through
its storage layer (the sample exchange, `bank_add_content`); the fixtures here make the same
banks through the HTTP API."""

from __future__ import annotations

from typing import Any

import pytest

from lykta.hashing.registry import from_foreign
from tests.api.hma_suite.conftest import HmaClient, create_bank

# HMA's default signal types (its test checks its storage holds exactly these).
SIGNAL_TYPES = ("pdq", "video_md5")


def example(signal_type: str) -> str:
    """The first example hash of a signal type, as HMA's `get_examples()[0]`."""
    return from_foreign("hma", signal_type).examples()[0]


@pytest.fixture
def client_with_sample_data(client: HmaClient) -> HmaClient:
    """HMA fetches its sample exchange into bank SAMPLE: examples of every signal type."""
    create_bank(client, "SAMPLE")
    for signal_type in SIGNAL_TYPES:
        for signal in from_foreign("hma", signal_type).examples():
            resp = client.post("/c/bank/SAMPLE/signal", json={signal_type: signal})
            assert resp.status_code == 200, resp.json
    assert client.get("/status").status_code == 200
    return client


def test_raw_lookups(client_with_sample_data: HmaClient) -> None:
    """test_match_api.py::test_raw_lookups"""
    client = client_with_sample_data
    for sig_name in SIGNAL_TYPES:
        query_str: dict[str, Any] = {"signal": example(sig_name), "signal_type": sig_name}

        resp = client.get("/m/raw_lookup", query_string=query_str)
        assert resp.status_code == 200
        match_count = len(resp.json["matches"])
        assert match_count >= 1

        query_str["include_distance"] = True
        resp = client.get("/m/raw_lookup", query_string=query_str)
        assert resp.status_code == 200
        with_dist_matches = resp.json["matches"]
        assert len(with_dist_matches) == match_count
        for match in with_dist_matches:
            assert "bank_content_id" in match
            assert "distance" in match


def test_lookups(client_with_sample_data: HmaClient) -> None:
    """test_match_api.py::test_lookups"""
    client = client_with_sample_data
    for sig_name in SIGNAL_TYPES:
        query_str = {"signal": example(sig_name), "signal_type": sig_name}
        resp = client.get("/m/lookup", query_string=query_str)
        assert resp.status_code == 200
        resp_json = resp.json
        assert len(resp_json) == 1
        assert "SAMPLE" in resp_json
        with_dist_matches = resp_json["SAMPLE"]
        assert len(with_dist_matches) > 0
        for match in with_dist_matches:
            assert "bank_content_id" in match
            assert "distance" in match


@pytest.fixture
def client_with_multi_bank_data(client: HmaClient) -> HmaClient:
    """Banks A, B and C, each holding the first PDQ example."""
    for bank in ("BANK_A", "BANK_B", "BANK_C"):
        create_bank(client, bank)
        resp = client.post(f"/c/bank/{bank}/signal", json={"pdq": example("pdq")})
        assert resp.status_code == 200
    assert client.get("/status").status_code == 200
    return client


def test_raw_lookup_with_bank_filter(client_with_multi_bank_data: HmaClient) -> None:
    """test_match_api.py::test_raw_lookup_with_bank_filter"""
    client = client_with_multi_bank_data
    query_str = {"signal": example("pdq"), "signal_type": "pdq"}

    resp = client.get("/m/raw_lookup", query_string=query_str)
    assert resp.status_code == 200
    assert len(resp.json["matches"]) == 3  # one from each bank

    query_str["banks"] = "BANK_A"
    resp = client.get("/m/raw_lookup", query_string=query_str)
    assert resp.status_code == 200
    assert len(resp.json["matches"]) == 1

    query_str["banks"] = "BANK_A,BANK_B"
    resp = client.get("/m/raw_lookup", query_string=query_str)
    assert resp.status_code == 200
    assert len(resp.json["matches"]) == 2

    query_str["banks"] = "NON_EXISTENT_BANK"
    resp = client.get("/m/raw_lookup", query_string=query_str)
    assert resp.status_code == 200
    assert len(resp.json["matches"]) == 0


def test_raw_lookup_with_distance_and_bank_filter(client_with_multi_bank_data: HmaClient) -> None:
    """test_match_api.py::test_raw_lookup_with_distance_and_bank_filter"""
    client = client_with_multi_bank_data
    query_str = {
        "signal": example("pdq"),
        "signal_type": "pdq",
        "include_distance": True,
        "banks": "BANK_A,BANK_B",
    }
    resp = client.get("/m/raw_lookup", query_string=query_str)
    assert resp.status_code == 200
    matches = resp.json["matches"]
    assert len(matches) == 2
    for match in matches:
        assert "bank_content_id" in match
        assert "distance" in match


def test_lookup_with_bank_filter(client_with_multi_bank_data: HmaClient) -> None:
    """test_match_api.py::test_lookup_with_bank_filter"""
    client = client_with_multi_bank_data
    query_str = {"signal": example("pdq"), "signal_type": "pdq"}

    resp = client.get("/m/lookup", query_string=query_str)
    assert resp.status_code == 200
    assert set(resp.json) == {"BANK_A", "BANK_B", "BANK_C"}

    query_str["banks"] = "BANK_A"
    resp = client.get("/m/lookup", query_string=query_str)
    assert resp.status_code == 200
    assert len(resp.json) == 1
    assert len(resp.json["BANK_A"]) > 0

    query_str["banks"] = "BANK_A,BANK_C"
    resp = client.get("/m/lookup", query_string=query_str)
    assert resp.status_code == 200
    assert set(resp.json) == {"BANK_A", "BANK_C"}

    query_str["banks"] = "NON_EXISTENT_BANK"
    resp = client.get("/m/lookup", query_string=query_str)
    assert resp.status_code == 200
    assert len(resp.json) == 0
