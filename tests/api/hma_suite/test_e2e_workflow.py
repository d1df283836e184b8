"""HMA's `tests/test_e2e_workflow.py`, ported (see conftest.py)."""

from __future__ import annotations

import random

from tests.api.hma_suite.conftest import HmaClient, create_bank

# HMA banks python-threatexchange's 16 PDQ examples; any 16 hashes far apart will do.
_random = random.Random(16)
HASHES = [f"{_random.getrandbits(256):064x}" for _ in range(16)]


def test_add_hashes_and_find_match(client: HmaClient) -> None:
    """test_e2e_workflow.py::test_add_hashes_and_find_match"""
    bank_name = "TEST_BANK"
    create_bank(client, bank_name)

    for pdq in HASHES:
        resp = client.post(f"/c/bank/{bank_name}/signal", json={"pdq": pdq})
        assert resp.status_code == 200

    resp = client.get("/m/index/status?signal_type=pdq")
    assert resp.status_code == 200
    all_build_info = resp.json
    assert "pdq" in all_build_info
    build_info = all_build_info["pdq"]
    assert build_info["present"] is True
    assert build_info["size"] == len(HASHES)

    resp = client.get(f"/m/lookup?signal_type=pdq&signal={HASHES[-1]}")
    assert resp.status_code == 200
    assert resp.json == {"TEST_BANK": [{"bank_content_id": 16, "distance": "0"}]}

    resp = client.get("/m/lookup?signal_type=pdq&signal={}".format("5" * 64))
    assert resp.status_code == 200
    assert resp.json == {}
