"""HMA's `tests/test_api_banks.py`, ported (see conftest.py). HMA's tests that fetch a
picture from github.com fetch the same kind of picture from the local image server here."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.api.hma_suite.conftest import (
    IMAGE_URL_TO_PDQ,
    HmaClient,
    add_hash_to_bank,
    create_bank,
    deliberate,
)


def test_banks_empty_index(client: HmaClient) -> None:
    """test_api_banks.py::test_banks_empty_index"""
    response = client.get("/c/banks")
    assert response.status_code == 200
    assert response.json == []


def test_banks_create(client: HmaClient) -> None:
    """test_api_banks.py::test_banks_create"""
    # Must not start with number
    post_response = client.post("/c/banks", json={"name": "01_TEST_BANK"})
    assert post_response.status_code == 400

    # Cannot contain lowercase letters
    post_response = client.post("/c/banks", json={"name": "my_test_bank"})
    assert post_response.status_code == 400

    post_response = client.post("/c/banks", json={"name": "MY_TEST_BANK_01"})
    assert post_response.status_code == 201
    assert post_response.json == {"matching_enabled_ratio": 1.0, "name": "MY_TEST_BANK_01"}

    # Should now be visible on index
    response = client.get("/c/banks")
    assert response.status_code == 200
    assert response.json == [post_response.json]


def test_banks_update(client: HmaClient) -> None:
    """test_api_banks.py::test_banks_update"""
    post_response = client.post("/c/banks", json={"name": "MY_TEST_BANK"})
    assert post_response.status_code == 201

    # check name validation
    post_response = client.put("/c/bank/MY_TEST_BANK", json={"name": "1_invalid_name"})
    assert post_response.status_code == 400

    # check update with rename
    post_response = client.put("/c/bank/MY_TEST_BANK", json={"name": "MY_TEST_BANK_RENAMED"})
    assert post_response.status_code == 200
    assert post_response.get_json()["name"] == "MY_TEST_BANK_RENAMED"

    # check update without rename
    post_response = client.put("/c/bank/MY_TEST_BANK_RENAMED", json={"enabled": False})
    assert post_response.status_code == 200
    assert post_response.get_json()["matching_enabled_ratio"] == 0

    # check update without ratio
    post_response = client.put("/c/bank/MY_TEST_BANK_RENAMED", json={"enabled_ratio": 0.5})
    assert post_response.status_code == 200
    assert post_response.get_json()["matching_enabled_ratio"] == 0.5

    # Final test to make sure we only have one bank with proper name and disabled
    get_response = client.get("/c/banks")
    assert get_response.status_code == 200
    json = get_response.get_json()
    assert len(json) == 1
    assert json[0] == {"name": "MY_TEST_BANK_RENAMED", "matching_enabled_ratio": 0.5}


def test_banks_delete(client: HmaClient) -> None:
    """test_api_banks.py::test_banks_delete"""
    post_response = client.post("/c/banks", json={"name": "MY_TEST_BANK"})
    assert post_response.status_code == 201

    post_response = client.delete("/c/bank/MY_TEST_BANK")
    assert post_response.status_code == 200

    # deleting non existing bank should succeed
    post_response = client.delete("/c/bank/MY_TEST_BANK")
    assert post_response.status_code == 200


def _add_image1(client: HmaClient, bank_name: str, image_server: str, json: object = None) -> int:
    """The add-content call several of HMA's tests repeat."""
    image_url = f"{image_server}/image1.jpg"
    add_response = client.post(
        f"/c/bank/{bank_name}/content?url={image_url}&content_type=photo", json=json
    )
    assert add_response.status_code == 200, str(add_response.get_json())
    assert add_response.json
    content_id: int = add_response.json.get("id")
    return content_id


def test_bank_get_content(client: HmaClient, image_server: str) -> None:
    """test_api_banks.py::test_bank_get_content"""
    bank_name = "TEST_BANK_GET"
    create_bank(client, bank_name)
    content_id = _add_image1(client, bank_name, image_server)

    get_response = client.get(f"/c/bank/{bank_name}/content/{content_id}")
    assert get_response.status_code == 200, str(get_response.get_json())
    assert get_response.json
    assert get_response.json.get("id") == content_id


def test_bank_get_content_404(client: HmaClient) -> None:
    """test_api_banks.py::test_bank_get_content_404"""
    bank_name = "TEST_BANK_GET"
    content_id = 1

    # Bank does not exist
    get_response = client.get(f"/c/bank/{bank_name}/content/{content_id}")
    assert get_response.status_code == 404, str(get_response.get_json())

    create_bank(client, bank_name)

    # Content does not exist
    get_response = client.get(f"/c/bank/{bank_name}/content/{content_id}")
    assert get_response.status_code == 404, str(get_response.get_json())


def test_banks_add_content(client: HmaClient, image_server: str) -> None:
    """test_api_banks.py::test_banks_add_content"""
    bank_name = "NEW_BANK"
    create_bank(client, bank_name)
    image_url = f"{image_server}/image1.jpg"

    post_response = client.post(f"/c/bank/{bank_name}/content?url={image_url}&content_type=photo")
    assert post_response.status_code == 200, str(post_response.get_json())
    assert post_response.json == {"id": 1, "signals": {"pdq": IMAGE_URL_TO_PDQ[image_url]}}


def test_bank_update_content(client: HmaClient, image_server: str) -> None:
    """test_api_banks.py::test_bank_update_content"""
    bank_name = "TEST_BANK_UPDATE"
    create_bank(client, bank_name)
    content_id = _add_image1(client, bank_name, image_server)

    new_disable_ts = int((datetime.now() + timedelta(days=365)).timestamp())
    update_response = client.put(
        f"/c/bank/{bank_name}/content/{content_id}", json={"disable_until_ts": new_disable_ts}
    )
    assert update_response.status_code == 200, str(update_response.get_json())
    assert update_response.json
    assert update_response.json.get("disable_until_ts") == new_disable_ts


def test_bank_update_content_400(client: HmaClient, image_server: str) -> None:
    """test_api_banks.py::test_bank_update_content_400"""
    bank_name = "TEST_BANK_UPDATE"
    create_bank(client, bank_name)
    content_id = _add_image1(client, bank_name, image_server)

    # too far in the future
    update_response = client.put(
        f"/c/bank/{bank_name}/content/{content_id}", json={"disable_until_ts": 9999999999}
    )
    assert update_response.status_code == 400, str(update_response.get_json())


def test_banks_delete_content(client: HmaClient, image_server: str) -> None:
    """test_api_banks.py::test_banks_delete_content"""
    bank_name = "NEW_BANK"
    image_url = f"{image_server}/image1.jpg"
    create_bank(client, bank_name)
    add_hash_to_bank(client, bank_name, image_url, 1)

    post_response = client.delete(f"/c/bank/{bank_name}/content/1")
    assert post_response.status_code == 200
    assert post_response.json == {"deleted": 1}


def test_banks_add_metadata(client: HmaClient, image_server: str) -> None:
    """test_api_banks.py::test_banks_add_metadata"""
    bank_name = "NEW_BANK"
    create_bank(client, bank_name)
    image_url = f"{image_server}/image1.jpg"
    post_request = f"/c/bank/{bank_name}/content?url={image_url}&content_type=photo"

    post_response = client.post(post_request, json={"metadata": {"invalid_metadata": 5}})
    assert post_response.status_code == 400, str(post_response.get_json())

    post_response = client.post(
        post_request, json={"metadata": {"content_id": "1197433091", "json": {"asdf": {}}}}
    )
    assert post_response.status_code == 200, str(post_response.get_json())


def test_banks_add_hash_index(client: HmaClient, image_server: str) -> None:
    """test_api_banks.py::test_banks_add_hash_index (HMA builds its index by hand here)."""
    bank_name = "NEW_BANK"
    bank_name_2 = "NEW_BANK_2"
    image_url = f"{image_server}/image1.jpg"
    image_url_2 = f"{image_server}/image2.jpg"

    create_bank(client, bank_name)
    add_hash_to_bank(client, bank_name, image_url, 1)
    create_bank(client, bank_name_2)
    add_hash_to_bank(client, bank_name, image_url_2, 2)

    post_response = client.get(
        f"/m/raw_lookup?signal_type=pdq&signal={IMAGE_URL_TO_PDQ[image_url]}"
    )
    assert post_response.status_code == 200
    assert post_response.json == {"matches": [1]}

    post_response = client.get(
        f"/m/raw_lookup?signal_type=pdq&signal={IMAGE_URL_TO_PDQ[image_url_2]}"
    )
    assert post_response.status_code == 200
    assert post_response.json == {"matches": [2]}


def test_bank_get_content_with_signals(client: HmaClient, image_server: str) -> None:
    """test_api_banks.py::test_bank_get_content_with_signals"""
    bank_name = "TEST_BANK_GET_SIGS"
    create_bank(client, bank_name)
    content_id = _add_image1(client, bank_name, image_server)

    get_response = client.get(f"/c/bank/{bank_name}/content/{content_id}")
    assert get_response.status_code == 200, str(get_response.get_json())
    assert get_response.json
    assert get_response.json.get("id") == content_id
    assert "signals" not in get_response.json

    get_response = client.get(f"/c/bank/{bank_name}/content/{content_id}?include_signals=true")
    assert get_response.status_code == 200, str(get_response.get_json())
    assert get_response.json
    assert get_response.json.get("id") == content_id
    if "signals" in get_response.json:
        assert isinstance(get_response.json["signals"], dict)
        assert len(get_response.json["signals"]) > 0


@deliberate("`content_uri` and free-form `json` metadata are not stored")
def test_bank_get_content_returns_stored_metadata(client: HmaClient, image_server: str) -> None:
    """test_api_banks.py::test_bank_get_content_returns_stored_metadata"""
    bank_name = "TEST_BANK_METADATA"
    create_bank(client, bank_name)
    metadata = {
        "content_id": "ext-id-123",
        "content_uri": "https://example.com/item/123",
        "json": {"source": "test", "nested": {"key": "value"}},
    }
    content_id = _add_image1(client, bank_name, image_server, json={"metadata": metadata})

    get_response = client.get(f"/c/bank/{bank_name}/content/{content_id}")
    assert get_response.status_code == 200, str(get_response.get_json())
    get_data = get_response.get_json()
    assert "metadata" in get_data
    assert get_data["metadata"]["content_id"] == metadata["content_id"]
    assert get_data["metadata"]["content_uri"] == metadata["content_uri"]
    assert get_data["metadata"]["json"] == metadata["json"]


def test_bank_get_content_include_metadata_false(client: HmaClient, image_server: str) -> None:
    """test_api_banks.py::test_bank_get_content_include_metadata_false"""
    bank_name = "TEST_BANK_NO_METADATA"
    create_bank(client, bank_name)
    content_id = _add_image1(
        client,
        bank_name,
        image_server,
        json={"metadata": {"content_id": "id1", "content_uri": "https://example.com/1"}},
    )

    get_response = client.get(f"/c/bank/{bank_name}/content/{content_id}?include_metadata=false")
    assert get_response.status_code == 200, str(get_response.get_json())
    get_data = get_response.get_json()
    assert get_data is not None
    assert "metadata" not in get_data


def test_bank_add_content_with_note(client: HmaClient, image_server: str) -> None:
    """test_api_banks.py::test_bank_add_content_with_note"""
    bank_name = "TEST_BANK_NOTE"
    create_bank(client, bank_name)
    content_id = _add_image1(client, bank_name, image_server, json={"note": "Reported by user X"})

    get_response = client.get(f"/c/bank/{bank_name}/content/{content_id}")
    assert get_response.status_code == 200, str(get_response.get_json())
    assert get_response.get_json()["note"] == "Reported by user X"


def test_bank_add_content_without_note_omitted(client: HmaClient, image_server: str) -> None:
    """test_api_banks.py::test_bank_add_content_without_note_omitted"""
    bank_name = "TEST_BANK_NO_NOTE"
    create_bank(client, bank_name)
    content_id = _add_image1(client, bank_name, image_server)

    get_response = client.get(f"/c/bank/{bank_name}/content/{content_id}")
    assert get_response.status_code == 200, str(get_response.get_json())
    assert "note" not in get_response.get_json()


def test_bank_update_content_note(client: HmaClient, image_server: str) -> None:
    """test_api_banks.py::test_bank_update_content_note"""
    bank_name = "TEST_BANK_NOTE_UPDATE"
    create_bank(client, bank_name)
    content_id = _add_image1(client, bank_name, image_server)
    path = f"/c/bank/{bank_name}/content/{content_id}"

    update_response = client.put(path, json={"note": "Initial note"})
    assert update_response.status_code == 200, str(update_response.get_json())
    assert client.get(path).get_json()["note"] == "Initial note"

    update_response = client.put(path, json={"note": "Updated note"})
    assert update_response.status_code == 200
    assert client.get(path).get_json()["note"] == "Updated note"

    update_response = client.put(path, json={"note": ""})
    assert update_response.status_code == 200
    assert "note" not in client.get(path).get_json()


def test_bank_add_note_too_long(client: HmaClient, image_server: str) -> None:
    """test_api_banks.py::test_bank_add_note_too_long"""
    bank_name = "TEST_BANK_NOTE_LONG"
    create_bank(client, bank_name)
    image_url = f"{image_server}/image1.jpg"
    add_response = client.post(
        f"/c/bank/{bank_name}/content?url={image_url}&content_type=photo",
        json={"note": "x" * 256},
    )
    assert add_response.status_code == 400


def test_bank_add_hash_with_note(client: HmaClient) -> None:
    """test_api_banks.py::test_bank_add_hash_with_note"""
    bank_name = "TEST_BANK_HASH_NOTE"
    create_bank(client, bank_name)
    add_response = client.post(
        f"/c/bank/{bank_name}/signal", json={"pdq": "0" * 64, "note": "Hash from campaign ABC"}
    )
    assert add_response.status_code == 200, str(add_response.get_json())
    content_id = add_response.get_json()["id"]

    get_response = client.get(f"/c/bank/{bank_name}/content/{content_id}")
    assert get_response.status_code == 200, str(get_response.get_json())
    assert get_response.get_json()["note"] == "Hash from campaign ABC"


def test_bank_get_content_without_metadata_omitted(client: HmaClient, image_server: str) -> None:
    """test_api_banks.py::test_bank_get_content_without_metadata_omitted"""
    bank_name = "TEST_BANK_NO_META"
    create_bank(client, bank_name)
    content_id = _add_image1(client, bank_name, image_server)

    get_response = client.get(f"/c/bank/{bank_name}/content/{content_id}")
    assert get_response.status_code == 200, str(get_response.get_json())
    get_data = get_response.get_json()
    assert get_data is not None
    assert "metadata" not in get_data
