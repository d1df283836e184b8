"""Inputs a fuzzer found to end in a 500 (or an uncaught exception): each must be a clear 4xx
that says what was wrong, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lykta.api.main import create_app
from lykta.app import Lykta
from lykta.auth.tokens import Scope
from tests.conftest import Tokens, make_photo, make_settings

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
OTHER_PDQ = "0" * 63 + "1"


@pytest.fixture
def curator(client: TestClient, tokens: Tokens) -> dict[str, str]:
    headers = tokens.header("curator")
    assert client.post("/api/v1/banks", json={"name": "a"}, headers=headers).status_code == 201
    response = client.post("/api/v1/banks/a/content", json={"hash": PDQ}, headers=headers)
    assert response.status_code == 201
    return headers


def _message(response: object) -> str:
    body = response.json()  # type: ignore[attr-defined]
    return str(body.get("detail") or body.get("message"))


# --- HMA JSON bodies nested past Python's recursion limit ----------------------------------


@pytest.mark.parametrize("path", ["/c/bank/a/signal", "/c/bank/a/content"])
@pytest.mark.parametrize(
    "nested", ["[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000]
)
def test_hma_deeply_nested_json_is_a_400(
    client: TestClient, curator: dict[str, str], path: str, nested: str
) -> None:
    response = client.post(
        path, content=nested, headers={**curator, "content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["message"]


# --- HMA fetch URLs that urlsplit itself refuses -------------------------------------------


@pytest.fixture
def fetching_client(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    core = Lykta.open(make_settings(tmp_path / "home", hma_fetch_urls="public"))
    _, token = core.tokens.create(Scope.ADMIN, "fetch")
    with TestClient(create_app(core, follow_changes=False), raise_server_exceptions=False) as c:
        yield c, {"Authorization": f"Bearer {token}"}
    core.close()


@pytest.mark.parametrize("route", ["/h/hash", "/m/lookup"])
@pytest.mark.parametrize("url", ["http://[::1", "http://[not-an-address]/"])
def test_hma_malformed_fetch_url_is_a_400(
    fetching_client: tuple[TestClient, dict[str, str]], route: str, url: str
) -> None:
    client, headers = fetching_client
    response = client.get(route, params={"url": url}, headers=headers)
    assert response.status_code == 400
    assert "url is malformed" in response.json()["message"]


# --- bank names the database cannot compare (PostgreSQL refuses NUL) -----------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/banks/a%00"),
        ("patch", "/api/v1/banks/%00"),
        ("delete", "/api/v1/banks/a%00"),
        ("get", "/api/v1/banks/a%00/content"),
        ("get", "/api/v1/banks/a%00/content/1"),
        ("delete", "/api/v1/banks/a%00/content/1"),
        ("get", "/api/v1/banks/a%00/export"),
        ("post", "/api/v1/banks/a%00/content"),
        ("get", "/c/bank/a%00"),
        ("put", "/c/bank/a%00"),
        ("post", "/c/bank/a%00/signal"),
        ("get", "/c/bank/a%00/content/1"),
        ("delete", "/c/bank/a%00/content/1"),
    ],
)
def test_bank_name_with_nul_is_not_found(
    client: TestClient, curator: dict[str, str], method: str, path: str
) -> None:
    body = {"hash": PDQ} if path.endswith("/content") else {"pdq": PDQ, "description": "x"}
    response = client.request(method, path, json=body, headers=curator)
    assert response.status_code == 404
    assert "no bank named" in _message(response)


def test_upload_to_bank_name_with_nul_is_not_found(
    client: TestClient, curator: dict[str, str]
) -> None:
    files = {"file": ("l.txt", PDQ.encode())}
    response = client.post("/api/v1/banks/a%00/import", files=files, headers=curator)
    assert response.status_code == 404
    response = client.post(
        "/c/bank/a%00/content", files={"photo": ("p.jpg", make_photo(3))}, headers=curator
    )
    assert response.status_code == 404


def test_hma_delete_of_bank_name_with_nul_succeeds_as_for_any_unknown_bank(
    client: TestClient, curator: dict[str, str]
) -> None:
    assert client.delete("/c/bank/a%00", headers=curator).json() == {"message": "Done"}


# --- bank names with a trailing newline (`$` matched before it) ----------------------------


def test_bank_name_with_trailing_newline_is_refused(
    client: TestClient, curator: dict[str, str]
) -> None:
    response = client.post("/api/v1/banks", json={"name": "b\n"}, headers=curator)
    assert response.status_code == 422
    assert "bad bank name" in response.json()["detail"]
    response = client.patch("/api/v1/banks/a", json={"name": "b\n"}, headers=curator)
    assert response.status_code == 422
    response = client.post("/c/banks", json={"name": "b\n"}, headers=curator)
    assert response.status_code == 400
    assert "bad bank name" in response.json()["message"]
    assert [b["name"] for b in client.get("/api/v1/banks", headers=curator).json()] == ["a"]


# --- free text the database cannot store, or no response can show -------------------------

UNSTORABLE = [("a\\u0000b", "NUL"), ("\\ud800", "surrogate")]


@pytest.mark.parametrize(("value", "reason"), UNSTORABLE)
@pytest.mark.parametrize("field", ["description", "source", "licence"])
def test_bank_text_fields_must_be_storable(
    client: TestClient, curator: dict[str, str], field: str, value: str, reason: str
) -> None:
    headers = {**curator, "content-type": "application/json"}
    response = client.post(
        "/api/v1/banks", content=f'{{"name": "b", "{field}": "{value}"}}', headers=headers
    )
    assert response.status_code == 422
    assert field in response.json()["detail"] and reason in response.json()["detail"]
    response = client.patch("/api/v1/banks/a", content=f'{{"{field}": "{value}"}}', headers=headers)
    assert response.status_code == 422
    assert reason in response.json()["detail"]
    assert client.get("/api/v1/banks/a", headers=curator).json()[field] == ""


@pytest.mark.parametrize(("value", "reason"), UNSTORABLE)
@pytest.mark.parametrize("where", ["external_id", "labels"])
def test_content_text_must_be_storable(
    client: TestClient, tokens: Tokens, curator: dict[str, str], where: str, value: str, reason: str
) -> None:
    body = (
        f'{{"hash": "{OTHER_PDQ}", "external_id": "{value}"}}'
        if where == "external_id"
        else f'{{"hash": "{OTHER_PDQ}", "labels": ["ok", "{value}"]}}'
    )
    response = client.post(
        "/api/v1/banks/a/content",
        content=body,
        headers={**curator, "content-type": "application/json"},
    )
    assert response.status_code == 422
    # (pydantic itself refuses a lone surrogate in the length-limited external_id)
    assert reason in response.json()["detail"] or "unicode" in response.json()["detail"]
    # Nothing was stored that would break the responses that show it.
    matcher = tokens.header("matcher")
    response = client.get(f"/api/v1/lookup?hash={OTHER_PDQ}", headers=matcher)
    assert response.status_code == 200 and response.json()["matches"] == []
    assert client.get("/api/v1/banks/a/content", headers=curator).status_code == 200
    assert client.get("/api/v1/banks/a/export", headers=curator).status_code == 200


def test_media_external_id_with_nul_is_refused(client: TestClient, curator: dict[str, str]) -> None:
    response = client.post(
        "/api/v1/banks/a/content/media?external_id=a%00b",
        files={"file": ("p.jpg", make_photo(4))},
        headers=curator,
    )
    assert response.status_code == 422
    assert "NUL" in response.json()["detail"]


@pytest.mark.parametrize(
    ("filename", "reason"), [(b"n" * 600 + b".jpg", "longer than 512"), (b"a\x00b.jpg", "NUL")]
)
def test_media_file_name_that_cannot_be_the_external_id(
    client: TestClient, curator: dict[str, str], filename: bytes, reason: str
) -> None:
    photo = make_photo(5)
    body = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="'
        + filename
        + b'"\r\nContent-Type: image/jpeg\r\n\r\n'
        + photo
        + b"\r\n--b--\r\n"
    )
    headers = {**curator, "content-type": "multipart/form-data; boundary=b"}
    response = client.post("/api/v1/banks/a/content/media", content=body, headers=headers)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert reason in detail and "external_id=" in detail
    # An explicit external id is used instead of the file name.
    response = client.post(
        "/api/v1/banks/a/content/media?external_id=p", content=body, headers=headers
    )
    assert response.status_code == 201


def test_hma_content_id_with_nul_is_a_400(client: TestClient, curator: dict[str, str]) -> None:
    response = client.post(
        "/c/bank/a/content",
        files={"photo": ("p.jpg", make_photo(6))},
        data={"content_id": "a\x00b"},
        headers=curator,
    )
    assert response.status_code == 400
    assert "NUL" in response.json()["message"]


@pytest.mark.parametrize(
    ("fmt", "text", "reason"),
    [
        ("csv", f"hash,id\n{OTHER_PDQ},a\x00b\n", "id contains a NUL"),
        ("csv", f"hash,labels\n{OTHER_PDQ},x;a\x00b\n", "contains a NUL"),
        ("text", f"{OTHER_PDQ},a\x00b\n", "contains a NUL"),
        ("threatexchange", f"pdq {OTHER_PDQ} a\x00b\n", "contains a NUL"),
    ],
)
def test_import_line_with_nul_is_a_line_error(
    client: TestClient, curator: dict[str, str], fmt: str, text: str, reason: str
) -> None:
    files = {"file": ("l.txt", text.encode())}
    response = client.post(f"/api/v1/banks/a/import?format={fmt}", files=files, headers=curator)
    assert response.status_code == 422
    assert ":2:" in response.json()["detail"] or ":1:" in response.json()["detail"]
    assert reason in response.json()["detail"]
    response = client.post(
        f"/api/v1/banks/a/import?format={fmt}&skip_invalid=true", files=files, headers=curator
    )
    assert response.status_code == 200
    assert response.json()["added"] == 0
    assert reason in response.json()["skipped"][0]["reason"]
