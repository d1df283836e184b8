"""The fast path of the two hottest look-up routes answers exactly as the full routes do and
leaves every other case to them; tokens are checked from memory, and a token revoked in one
replica stops working in another within seconds."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lykta.api.deps import TokenTable
from lykta.api.main import create_app
from lykta.app import Lykta
from lykta.auth.tokens import Scope, TokenRepository
from tests.conftest import Tokens, make_settings

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
PDQ_NEAR = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b23"
PDQ_OTHER = "0" * 64
MD5 = "d41d8cd98f00b204e9800998ecf8427e"

HOT_REQUESTS = [
    f"/api/v1/lookup?hash={PDQ_NEAR}",
    f"/api/v1/lookup?hash={PDQ_OTHER}",
    f"/api/v1/lookup?hash={MD5.upper()}&kind=MD5",
    f"/m/raw_lookup?signal_type=pdq&signal={PDQ_NEAR}",
    f"/m/raw_lookup?signal_type=pdq&signal={PDQ_NEAR}&include_distance=true",
    f"/m/raw_lookup?signal_type=video_md5&signal={MD5}&include_distance=0",
    f"/m/raw_lookup?signal_type=pdq&signal={PDQ_OTHER}",
]
FULL_ROUTE_REQUESTS = [
    (f"/api/v1/lookup?hash={PDQ}&bank=hot", 200),
    (f"/api/v1/lookup?hash={PDQ}&hash={PDQ}", 200),
    ("/api/v1/lookup?hash=xyz", 422),
    (f"/api/v1/lookup?hash={PDQ}&kind=sha1", 422),
    ("/api/v1/lookup", 422),
    (f"/m/raw_lookup?signal_type=pdq&signal={PDQ}&banks=hot", 200),
    (f"/m/raw_lookup?signal_type=pdq&signal={PDQ}&include_distance=maybe", 400),
    (f"/m/raw_lookup?signal_type=nope&signal={PDQ}", 400),
    ("/m/raw_lookup?signal_type=pdq&signal=xyz", 400),
    ("/m/raw_lookup?signal_type=pdq", 400),
]


@pytest.fixture
def client(sqlite_core: Lykta) -> Iterator[TestClient]:
    with TestClient(create_app(sqlite_core, follow_changes=False)) as c:
        yield c


@pytest.fixture
def tokens(sqlite_core: Lykta, client: TestClient) -> Tokens:
    made = Tokens(sqlite_core)
    client.app.state.tokens.reload()  # type: ignore[attr-defined]
    h = made.header("curator")
    assert client.post("/api/v1/banks", json={"name": "hot"}, headers=h).status_code == 201
    for kind, value in (("pdq", PDQ), ("md5", MD5)):
        added = client.post(
            "/api/v1/banks/hot/content",
            json={"kind": kind, "hash": value, "external_id": f"x-{kind}", "labels": ["L"]},
            headers=h,
        )
        assert added.status_code == 201
    return made


@pytest.fixture
def full_route_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Secrets checked by the full routes' token dependency (the fast path never checks)."""
    calls: list[str] = []
    authenticate = TokenTable.authenticate

    async def counted(self: TokenTable, secret: str) -> object:
        calls.append(secret)
        return await authenticate(self, secret)

    monkeypatch.setattr(TokenTable, "authenticate", counted)
    return calls


def test_fast_path_answers_as_the_full_route_does(
    client: TestClient,
    tokens: Tokens,
    full_route_calls: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    h = tokens.header("matcher")
    fast = [client.get(path, headers=h) for path in HOT_REQUESTS]
    assert full_route_calls == []
    # A table that holds no token sends every request on to the full route.
    monkeypatch.setattr(TokenTable, "known", lambda self, secret: None)
    full = [client.get(path, headers=h) for path in HOT_REQUESTS]
    assert len(full_route_calls) == len(HOT_REQUESTS)
    for path, a, b in zip(HOT_REQUESTS, fast, full, strict=True):
        assert (a.status_code, a.content) == (b.status_code, b.content), path
        assert a.headers["content-type"] == b.headers["content-type"], path
        assert a.headers["content-length"] == b.headers["content-length"], path
    assert fast[0].json()["matches"][0]["external_id"] == "x-pdq"
    assert fast[3].json()["matches"] != []


@pytest.mark.parametrize(("path", "status"), FULL_ROUTE_REQUESTS)
def test_other_cases_go_to_the_full_route(
    client: TestClient, tokens: Tokens, full_route_calls: list[str], path: str, status: int
) -> None:
    response = client.get(path, headers=tokens.header("matcher"))
    assert response.status_code == status, response.text
    assert full_route_calls == [tokens.matcher]


@pytest.mark.parametrize(
    ("header", "status"),
    [(None, 401), ("Bearer lykta_wrong", 401), ("Basic abc", 401), ("curator", 200)],
)
def test_tokens_the_table_does_not_hold_with_scope_go_to_the_full_route(
    client: TestClient, tokens: Tokens, header: str | None, status: int
) -> None:
    if header == "curator":
        headers = tokens.header("curator")
    else:
        headers = {"Authorization": header} if header else {}
    for path in (f"/api/v1/lookup?hash={PDQ}", f"/m/raw_lookup?signal_type=pdq&signal={PDQ}"):
        assert client.get(path, headers=headers).status_code == status


def test_token_checks_read_no_database(
    client: TestClient, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_database(self: TokenRepository, secret: str) -> None:
        raise AssertionError("a token check read the database")

    monkeypatch.setattr(TokenRepository, "authenticate", no_database)
    h = tokens.header("matcher")
    for path in (f"/api/v1/lookup?hash={PDQ}&bank=hot", "/api/v1/status", HOT_REQUESTS[0]):
        assert client.get(path, headers=h).status_code == 200


def test_a_new_token_works_before_the_next_reload(sqlite_core: Lykta, client: TestClient) -> None:
    _, secret = sqlite_core.tokens.create(Scope.MATCHER, "new")
    response = client.get("/api/v1/status", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200


def test_a_token_revoked_in_one_replica_stops_working_in_another(
    tmp_path: Path, sqlite_core: Lykta, client: TestClient, tokens: Tokens
) -> None:
    other = Lykta.open(make_settings(tmp_path / "home"), sync=False)
    info, secret = other.tokens.create(Scope.MATCHER, "soon revoked")
    h = {"Authorization": f"Bearer {secret}"}
    paths = ("/api/v1/status", HOT_REQUESTS[0], HOT_REQUESTS[3])
    assert [client.get(path, headers=h).status_code for path in paths] == [200, 200, 200]
    other.tokens.revoke(info.id)
    other.close()
    deadline = time.monotonic() + 30
    while [client.get(path, headers=h).status_code for path in paths] != [401, 401, 401]:
        assert time.monotonic() < deadline, "the revoked token still works"
        time.sleep(0.1)
