"""The HMA-compatible routes answer what HMA (OpenMediaMatch) and its clients (ROOST Coop)
send and read. Expected shapes are taken from HMA's blueprints and Coop's hmaService."""

from __future__ import annotations

import ast
import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lykta.api import hma
from lykta.api.main import create_app
from lykta.app import Lykta
from lykta.auth.tokens import Scope
from lykta.banks.items import ContentItem
from lykta.media import fetch
from tests.conftest import make_photo, make_settings

PDQ_A = "f" * 64
PDQ_NEAR = "e" + "f" * 63  # one bit from PDQ_A
PDQ_FAR = "0" * 64
MD5 = "d41d8cd98f00b204e9800998ecf8427e"
ONE_MIB = 1024 * 1024


class Env:
    def __init__(self, core: Lykta) -> None:
        self.core = core
        self.client = TestClient(
            create_app(core, follow_changes=False), raise_server_exceptions=False
        )
        self.matcher = {"Authorization": f"Bearer {core.tokens.create(Scope.MATCHER)[1]}"}
        self.curator = {"Authorization": f"Bearer {core.tokens.create(Scope.CURATOR)[1]}"}

    def make_bank(self, name: str = "COOP_ORG1_CSAM") -> str:
        response = self.client.post("/c/banks", json={"name": name}, headers=self.curator)
        assert response.status_code == 201, response.text
        return name

    def add_signal(self, bank: str, signals: dict[str, str]) -> int:
        response = self.client.post(f"/c/bank/{bank}/signal", json=signals, headers=self.curator)
        assert response.status_code == 200, response.text
        return int(response.json()["id"])


def _open(tmp_path: Path, **settings: object) -> Iterator[Env]:
    core = Lykta.open(make_settings(tmp_path / "home", **settings))
    env = Env(core)
    with env.client:
        yield env
    core.close()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    yield from _open(tmp_path)


# --- auth ----------------------------------------------------------------------------------

ROUTES = [
    ("get", "/status", "matcher"),
    ("get", f"/m/raw_lookup?signal_type=pdq&signal={PDQ_A}", "matcher"),
    ("get", f"/m/lookup?signal_type=pdq&signal={PDQ_A}", "matcher"),
    ("post", "/m/lookup", "matcher"),
    ("post", "/h/hash", "matcher"),
    ("get", "/h/hash?url=http://example.org/a.png", "matcher"),
    ("get", "/m/index/status", "matcher"),
    ("get", "/c/banks", "curator"),
    ("post", "/c/banks", "curator"),
    ("get", "/c/bank/X", "curator"),
    ("put", "/c/bank/X", "curator"),
    ("delete", "/c/bank/X", "curator"),
    ("post", "/c/bank/X/content", "curator"),
    ("post", "/c/bank/X/signal", "curator"),
    ("get", "/c/bank/X/content/1", "curator"),
    ("delete", "/c/bank/X/content/1", "curator"),
]


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
def test_every_route_needs_a_token(env: Env, method: str, path: str, scope: str) -> None:
    response = env.client.request(method, path)
    assert response.status_code == 401
    assert "message" in response.json()
    bad = env.client.request(method, path, headers={"Authorization": "Bearer lykta_nope"})
    assert bad.status_code == 401


@pytest.mark.parametrize(("method", "path", "scope"), [r for r in ROUTES if r[2] == "curator"])
def test_curation_needs_curator_scope(env: Env, method: str, path: str, scope: str) -> None:
    response = env.client.request(method, path, headers=env.matcher)
    assert response.status_code == 403
    assert "curator" in response.json()["message"]


# --- /status -------------------------------------------------------------------------------


def test_status_is_hma_text(env: Env) -> None:
    response = env.client.get("/status", headers=env.matcher)
    assert response.status_code == 200
    assert response.text == "I-AM-ALIVE"


# --- /c: banks -----------------------------------------------------------------------------


def test_bank_lifecycle_as_coop_drives_it(env: Env) -> None:
    # Coop: POST /c/banks {"name", "enabled_ratio": "1"} (a string), checks response.ok
    created = env.client.post(
        "/c/banks", json={"name": "COOP_ORG1_MY_BANK", "enabled_ratio": "1"}, headers=env.curator
    )
    assert created.status_code == 201
    assert created.json() == {"name": "COOP_ORG1_MY_BANK", "matching_enabled_ratio": 1.0}

    # HMA answers 403 for a name already taken
    again = env.client.post("/c/banks", json={"name": "COOP_ORG1_MY_BANK"}, headers=env.curator)
    assert again.status_code == 403
    assert "message" in again.json()

    shown = env.client.get("/c/bank/COOP_ORG1_MY_BANK", headers=env.curator)
    assert shown.status_code == 200
    assert shown.json() == {"name": "COOP_ORG1_MY_BANK", "matching_enabled_ratio": 1.0}

    listed = env.client.get("/c/banks", headers=env.curator).json()
    assert listed == [{"name": "COOP_ORG1_MY_BANK", "matching_enabled_ratio": 1.0}]

    # Coop: PUT /c/bank/<name> {"enabled_ratio": 0}
    off = env.client.put(
        "/c/bank/COOP_ORG1_MY_BANK", json={"enabled_ratio": 0}, headers=env.curator
    )
    assert off.status_code == 200
    assert off.json()["matching_enabled_ratio"] == 0.0
    renamed = env.client.put(
        "/c/bank/COOP_ORG1_MY_BANK", json={"name": "RENAMED", "enabled": True}, headers=env.curator
    )
    assert renamed.json() == {"name": "RENAMED", "matching_enabled_ratio": 1.0}

    deleted = env.client.delete("/c/bank/RENAMED", headers=env.curator)
    assert deleted.status_code == 200
    assert deleted.json() == {"message": "Done"}
    # Coop drops its copy of a bank when HMA says 404
    assert env.client.get("/c/bank/RENAMED", headers=env.curator).status_code == 404
    # deleting again succeeds, as in HMA
    assert env.client.delete("/c/bank/RENAMED", headers=env.curator).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": "bad name!"},
        {"name": "OK", "enabled_ratio": 2},
        {"name": "OK", "enabled_ratio": "lots"},
        {"name": ["X"]},
    ],
)
def test_bad_bank_create_is_400(env: Env, body: dict[str, object]) -> None:
    response = env.client.post("/c/banks", json=body, headers=env.curator)
    assert response.status_code == 400, response.text
    assert response.json()["message"]


def test_create_disabled_bank(env: Env) -> None:
    response = env.client.post(
        "/c/banks", json={"name": "OFF", "enabled": False}, headers=env.curator
    )
    assert response.json() == {"name": "OFF", "matching_enabled_ratio": 0.0}


def test_unknown_bank_is_404(env: Env) -> None:
    for method, path in [
        ("get", "/c/bank/NOPE"),
        ("put", "/c/bank/NOPE"),
        ("get", "/c/bank/NOPE/content/1"),
        ("delete", "/c/bank/NOPE/content/1"),
    ]:
        response = env.client.request(method, path, json={}, headers=env.curator)
        assert response.status_code == 404, (method, path)
        assert "NOPE" in response.json()["message"]
    upload = env.client.post(
        "/c/bank/NOPE/content", files={"photo": ("a.jpg", make_photo(1))}, headers=env.curator
    )
    assert upload.status_code == 404
    signal = env.client.post("/c/bank/NOPE/signal", json={"pdq": PDQ_A}, headers=env.curator)
    assert signal.status_code == 404


def test_add_signal_and_content_by_id(env: Env) -> None:
    bank = env.make_bank()
    response = env.client.post(f"/c/bank/{bank}/signal", json={"pdq": PDQ_A}, headers=env.curator)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"id", "signals"}
    assert body["signals"] == {"pdq": PDQ_A}
    content_id = body["id"]
    # adding the same hash again gives the same content
    assert env.add_signal(bank, {"pdq": PDQ_A.upper()}) == content_id

    shown = env.client.get(
        f"/c/bank/{bank}/content/{content_id}?include_signals=true", headers=env.curator
    ).json()
    assert shown["id"] == content_id
    assert shown["bank"] == {"name": bank, "matching_enabled_ratio": 1.0}
    assert shown["disable_until_ts"] == 1
    assert shown["signals"] == {"pdq": PDQ_A}
    plain = env.client.get(f"/c/bank/{bank}/content/{content_id}", headers=env.curator).json()
    assert "signals" not in plain

    gone = env.client.delete(f"/c/bank/{bank}/content/{content_id}", headers=env.curator)
    assert gone.json() == {"deleted": 1}
    again = env.client.delete(f"/c/bank/{bank}/content/{content_id}", headers=env.curator)
    assert again.json() == {"deleted": 0}
    missing = env.client.get(f"/c/bank/{bank}/content/{content_id}", headers=env.curator)
    assert missing.status_code == 404


def test_include_signals_is_a_boolean_like_the_others(env: Env) -> None:
    bank = env.make_bank()
    content_id = env.add_signal(bank, {"pdq": PDQ_A})
    path = f"/c/bank/{bank}/content/{content_id}"
    one = env.client.get(path, params={"include_signals": "1"}, headers=env.curator)
    assert one.json()["signals"] == {"pdq": PDQ_A}
    off = env.client.get(path, params={"include_signals": "0"}, headers=env.curator)
    assert "signals" not in off.json()
    bad = env.client.get(path, params={"include_signals": "maybe"}, headers=env.curator)
    assert bad.status_code == 400
    assert "boolean" in bad.json()["message"]


def test_added_ids_come_from_the_service(env: Env) -> None:
    bank = env.make_bank()
    pdq_id = env.add_signal(bank, {"pdq": PDQ_A})
    assert env.add_signal(bank, {"pdq": PDQ_A}) == pdq_id  # the same content again: its id
    # several signals are one content item holding them all, as in HMA
    both = env.client.post(
        f"/c/bank/{bank}/signal", json={"pdq": PDQ_A, "video_md5": MD5}, headers=env.curator
    ).json()
    assert both["id"] != pdq_id
    content = env.core.banks.get_content(bank, both["id"])
    assert {(h.kind, h.value) for h in content.item.hashes} == {("pdq", PDQ_A), ("md5", MD5)}
    shown = env.client.get(
        f"/c/bank/{bank}/content/{both['id']}?include_signals=true", headers=env.curator
    ).json()
    assert shown["signals"] == {"pdq": PDQ_A, "video_md5": MD5}


def test_router_does_not_reach_into_the_store() -> None:
    imported = set()
    for module in Path(hma.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom):
                imported.add(node.module or "")
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    reaching = {m for m in imported if m.startswith(("lykta.store", "sqlalchemy"))}
    assert not reaching


def test_json_bodies_are_capped(env: Env) -> None:
    bank = env.make_bank()
    big = b'{"pdq": "' + PDQ_A.encode() + b'"}' + b" " * ONE_MIB
    json_type = {"Content-Type": "application/json"}
    for path in (f"/c/bank/{bank}/signal", f"/c/bank/{bank}/content?url=http://example.org/"):
        sized = env.client.post(path, content=big, headers={**env.curator, **json_type})
        assert sized.status_code == 413, (path, sized.text)
        assert "larger than" in sized.json()["message"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: the count is what stops it
            for start in range(0, len(big), 64 * 1024):
                yield big[start : start + 64 * 1024]

        streamed = env.client.post(path, content=chunks(), headers={**env.curator, **json_type})
        assert streamed.status_code == 413, (path, streamed.text)
    # just under the cap is fine
    small = big[:ONE_MIB]
    ok = env.client.post(
        f"/c/bank/{bank}/signal", content=small, headers={**env.curator, **json_type}
    )
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize(
    "body", [{}, {"nope": PDQ_A}, {"pdq": "xyz"}, {"pdq": 5}, {"video_md5": "12"}, ["pdq"]]
)
def test_bad_signals_are_400(env: Env, body: object) -> None:
    bank = env.make_bank()
    response = env.client.post(f"/c/bank/{bank}/signal", json=body, headers=env.curator)
    assert response.status_code == 400, response.text
    assert response.json()["message"]


def test_add_photo_as_coop_uploads_it(env: Env) -> None:
    # Coop: multipart, the file under its content type, metadata as extra form fields
    bank = env.make_bank()
    photo = make_photo(3)
    response = env.client.post(
        f"/c/bank/{bank}/content",
        files={"photo": ("x.jpg", photo, "image/jpeg")},
        data={
            "content_id": "item-42",
            "metadata": '{"content_uri": "https://example.org/7"}',
            "note": "seen in report 7",
        },
        headers=env.curator,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body["signals"]) == {"pdq"}  # HMA hashes photos with PDQ only
    assert len(body["signals"]["pdq"]) == 64
    content = env.core.banks.get_content(bank, body["id"])
    assert content.external_id == "item-42"
    assert content.note == "seen in report 7"
    assert [h.value for h in content.item.hashes] == [body["signals"]["pdq"]]

    # a lookup of that photo finds the same content id
    found = env.client.post(
        "/m/lookup", files={"photo": ("y.jpg", photo, "image/jpeg")}, headers=env.matcher
    )
    assert found.status_code == 200
    assert found.json() == {"pdq": {bank: [{"bank_content_id": body["id"], "distance": "0"}]}}


def test_add_photo_with_more_types(env: Env) -> None:
    bank = env.make_bank()
    photo = make_photo(4)
    response = env.client.post(
        f"/c/bank/{bank}/content?types=pdq,md5,sha256",
        files={"photo": ("x.jpg", photo)},
        headers=env.curator,
    )
    signals = response.json()["signals"]
    assert signals["md5"] == hashlib.md5(photo).hexdigest()
    assert signals["sha256"] == hashlib.sha256(photo).hexdigest()


def test_lookup_with_several_types_answers_each_type(env: Env) -> None:
    # One content item holds the photo's PDQ and MD5; HMA reports a match per signal type.
    bank = env.make_bank()
    photo = make_photo(6)
    added = env.client.post(
        f"/c/bank/{bank}/content?types=pdq,md5", files={"photo": ("x.jpg", photo)},
        headers=env.curator,
    ).json()  # fmt: skip
    found = env.client.post(
        "/m/lookup?types=pdq,md5", files={"photo": ("y.jpg", photo)}, headers=env.matcher
    )
    assert found.status_code == 200, found.text
    match = [{"bank_content_id": added["id"], "distance": "0"}]
    assert found.json() == {"pdq": {bank: match}, "md5": {bank: match}}
    # A negative bank holding only its MD5 still withholds every type's matches.
    env.core.banks.create("fp", negative=True)
    env.core.banks.add_content("fp", [ContentItem.of_hash("md5", added["signals"]["md5"])])
    found = env.client.post(
        "/m/lookup?types=pdq,md5", files={"photo": ("y.jpg", photo)}, headers=env.matcher
    )
    assert found.json() == {"pdq": {}, "md5": {}}


def test_add_content_bad_input(env: Env) -> None:
    bank = env.make_bank()
    for kwargs in [
        {},  # nothing at all
        {"files": {"audio": ("x.mp3", b"123")}},  # unknown content type
        {"files": {"photo": ("x.jpg", b"not an image")}},
        {"files": [("photo", ("a.jpg", b"1")), ("video", ("b.mp4", b"2"))]},
        {"files": {"photo": ("x.jpg", make_photo(1))}, "params": {"types": "video_md5"}},
        {"json": {"metadata": "nope"}, "params": {"url": "http://example.org/x.png"}},
    ]:
        response = env.client.post(f"/c/bank/{bank}/content", headers=env.curator, **kwargs)
        assert response.status_code == 400, (kwargs.keys(), response.text)
        assert response.json()["message"]


def test_add_video_banks_its_md5(env: Env) -> None:
    bank = env.make_bank()
    video = b"\x00\x00\x00\x18ftypmp42 not really a video"
    response = env.client.post(
        f"/c/bank/{bank}/content", files={"video": ("v.mp4", video)}, headers=env.curator
    )
    assert response.json()["signals"] == {"video_md5": hashlib.md5(video).hexdigest()}
    shown = env.client.get(
        f"/c/bank/{bank}/content/{response.json()['id']}?include_signals=true",
        headers=env.curator,
    )
    assert shown.json()["signals"] == {"video_md5": hashlib.md5(video).hexdigest()}
    found = env.client.post("/m/lookup", files={"video": ("w.mp4", video)}, headers=env.matcher)
    assert found.json() == {
        "video_md5": {bank: [{"bank_content_id": response.json()["id"], "distance": "0"}]}
    }


# --- /m: matching --------------------------------------------------------------------------


def test_lookup_by_hash_as_coop_reads_it(env: Env) -> None:
    bank_a = env.make_bank("COOP_ORG1_A")
    bank_b = env.make_bank("COOP_ORG1_B")
    id_a = env.add_signal(bank_a, {"pdq": PDQ_A})
    id_b = env.add_signal(bank_b, {"pdq": PDQ_NEAR})
    env.add_signal(bank_b, {"pdq": PDQ_FAR})

    # Coop: GET /m/lookup?signal=..&signal_type=pdq, reads body[bank_name][i].bank_content_id
    response = env.client.get(
        "/m/lookup", params={"signal": PDQ_A, "signal_type": "pdq"}, headers=env.matcher
    )
    assert response.status_code == 200
    assert response.json() == {
        bank_a: [{"bank_content_id": id_a, "distance": "0"}],
        bank_b: [{"bank_content_id": id_b, "distance": "1"}],
    }
    only_b = env.client.get(
        "/m/lookup",
        params={"signal": PDQ_A, "signal_type": "pdq", "banks": bank_b, "bypass_coinflip": "true"},
        headers=env.matcher,
    )
    assert only_b.json() == {bank_b: [{"bank_content_id": id_b, "distance": "1"}]}
    none = env.client.get(
        "/m/lookup", params={"signal": "5" * 64, "signal_type": "pdq"}, headers=env.matcher
    )
    assert none.status_code == 200
    assert none.json() == {}

    # a disabled bank does not match (HMA: enabled_ratio 0)
    env.client.put(f"/c/bank/{bank_a}", json={"enabled_ratio": 0}, headers=env.curator)
    after = env.client.get(
        "/m/lookup", params={"signal": PDQ_A, "signal_type": "pdq"}, headers=env.matcher
    )
    assert list(after.json()) == [bank_b]


def test_raw_lookup_shapes(env: Env) -> None:
    bank = env.make_bank()
    content_id = env.add_signal(bank, {"pdq": PDQ_A})
    plain = env.client.get(
        "/m/raw_lookup", params={"signal_type": "pdq", "signal": PDQ_NEAR}, headers=env.matcher
    )
    assert plain.status_code == 200
    assert plain.json() == {"matches": [content_id]}
    with_distance = env.client.get(
        "/m/raw_lookup",
        params={"signal_type": "pdq", "signal": PDQ_NEAR, "include_distance": "true"},
        headers=env.matcher,
    )
    assert with_distance.json() == {"matches": [{"bank_content_id": content_id, "distance": "1"}]}
    other_bank = env.client.get(
        "/m/raw_lookup",
        params={"signal_type": "pdq", "signal": PDQ_A, "banks": "ELSEWHERE"},
        headers=env.matcher,
    )
    assert other_bank.json() == {"matches": []}


def test_md5_signal_type_names(env: Env) -> None:
    bank = env.make_bank()
    content_id = env.add_signal(bank, {"video_md5": MD5})
    for name in ("video_md5", "md5"):
        response = env.client.get(
            "/m/lookup", params={"signal": MD5.upper(), "signal_type": name}, headers=env.matcher
        )
        assert response.json() == {bank: [{"bank_content_id": content_id, "distance": "0"}]}


@pytest.mark.parametrize(
    "params",
    [
        {"signal_type": "pdq"},
        {"signal": PDQ_A},
        {"signal_type": "tmk", "signal": PDQ_A},
        {"signal_type": "pdq", "signal": "abc"},
        {"signal_type": "pdq", "signal": "g" * 64},
        {"signal_type": "video_md5", "signal": PDQ_A},
        {"signal_type": "pdq", "signal": PDQ_A, "include_distance": "maybe"},
    ],
)
def test_bad_lookups_are_400(env: Env, params: dict[str, str]) -> None:
    for path in ("/m/lookup", "/m/raw_lookup"):
        if path == "/m/lookup" and "include_distance" in params:
            continue
        response = env.client.get(path, params=params, headers=env.matcher)
        assert response.status_code == 400, (path, params, response.text)
        assert response.json()["message"]


def test_lookup_upload_finds_rotated_copy(env: Env) -> None:
    from io import BytesIO

    from PIL import Image

    bank = env.make_bank()
    photo = make_photo(5)
    added = env.client.post(
        f"/c/bank/{bank}/content", files={"photo": ("a.jpg", photo)}, headers=env.curator
    ).json()
    rotated = BytesIO()
    Image.open(BytesIO(photo)).rotate(90, expand=True).save(rotated, "PNG")
    found = env.client.post(
        "/m/lookup?seed=123", files={"photo": ("r.png", rotated.getvalue())}, headers=env.matcher
    ).json()
    assert [m["bank_content_id"] for m in found["pdq"][bank]] == [added["id"]]
    other = env.client.post(
        "/m/lookup", files={"photo": ("o.jpg", make_photo(99))}, headers=env.matcher
    )
    assert other.json() == {"pdq": {}}


def test_lookup_upload_bad_input(env: Env) -> None:
    for kwargs in [
        {},
        {"data": {"photo": "not a file"}},
        {"files": {"gif": ("x.gif", b"1")}},
        {"files": {"photo": ("x.jpg", b"garbage")}},
    ]:
        response = env.client.post("/m/lookup", headers=env.matcher, **kwargs)
        assert response.status_code == 400, (kwargs, response.text)


def test_index_status(env: Env) -> None:
    bank = env.make_bank()
    env.add_signal(bank, {"pdq": PDQ_A})
    status = env.client.get("/m/index/status", headers=env.matcher).json()
    assert status["pdq"]["present"] is True
    assert status["pdq"]["size"] == 1
    assert status["video_md5"]["size"] == 0
    one = env.client.get("/m/index/status?signal_type=pdq", headers=env.matcher).json()
    assert list(one) == ["pdq"]
    bad = env.client.get("/m/index/status?signal_type=nope", headers=env.matcher)
    assert bad.status_code == 400


# --- /h: hashing ---------------------------------------------------------------------------


def test_hash_upload_shapes(env: Env) -> None:
    photo = make_photo(6)
    response = env.client.post("/h/hash", files={"photo": ("p.jpg", photo)}, headers=env.matcher)
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["pdq"]
    assert body["pdq"] == env.core.hash_photo(photo).pdq
    more = env.client.post(
        "/h/hash?types=pdq,sha256", files={"photo": ("p.jpg", photo)}, headers=env.matcher
    ).json()
    assert more == {"pdq": body["pdq"], "sha256": hashlib.sha256(photo).hexdigest()}
    video = env.client.post("/h/hash", files={"video": ("v.mp4", b"abc")}, headers=env.matcher)
    assert video.json() == {"video_md5": hashlib.md5(b"abc").hexdigest()}


def test_hash_bad_input(env: Env) -> None:
    for kwargs in [
        {},
        {"files": {"text": ("t.txt", b"hello")}},
        {"files": {"photo": ("p.jpg", b"\x89PNG broken")}},
        {"files": {"photo": ("p.jpg", make_photo(1))}, "params": {"types": ","}},
        {"files": {"video": ("v.mp4", b"1")}, "params": {"types": "pdq"}},
    ]:
        response = env.client.post("/h/hash", headers=env.matcher, **kwargs)
        assert response.status_code == 400, (kwargs, response.text)
    assert env.client.get("/h/hash", headers=env.matcher).status_code == 400


def test_url_fetching_is_off_by_default(env: Env) -> None:
    for path in (
        "/h/hash?url=http://169.254.169.254/latest/meta-data",
        "/m/lookup?url=http://127.0.0.1:1/x.png",
    ):
        response = env.client.get(path, headers=env.matcher)
        assert response.status_code == 403
        assert "disabled" in response.json()["message"]
    bank = env.make_bank()
    banked = env.client.post(f"/c/bank/{bank}/content?url=http://10.0.0.1/x", headers=env.curator)
    assert banked.status_code == 403


@pytest.fixture
def media_server() -> Iterator[str]:
    photo = make_photo(7)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/slow":  # a byte every 0.1 s: each read is quick, the whole slow
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(photo)))
                self.end_headers()
                try:
                    for byte in photo[:40]:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(0.1)
                except OSError:
                    pass
                return
            if self.path == "/truncated":  # promises more than it sends, then hangs up
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(photo)))
                self.end_headers()
                self.wfile.write(photo[:10])
                self.close_connection = True
                return
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "http://169.254.169.254/")
                self.end_headers()
                return
            body, kind = (photo, "image/jpeg") if self.path == "/p.jpg" else (b"hi", "text/plain")
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_url_fetching_public_refuses_private_addresses(tmp_path: Path, media_server: str) -> None:
    for env in _open(tmp_path, hma_fetch_urls="public"):
        for url in (f"{media_server}/p.jpg", "http://localhost:1/", "file:///etc/passwd"):
            response = env.client.get("/h/hash", params={"url": url}, headers=env.matcher)
            assert 400 <= response.status_code < 500, (url, response.text)


def test_url_fetching_from_listed_host(tmp_path: Path, media_server: str) -> None:
    for env in _open(tmp_path, hma_fetch_urls="127.0.0.1"):
        ok = env.client.get("/h/hash", params={"url": f"{media_server}/p.jpg"}, headers=env.matcher)
        assert ok.status_code == 200, ok.text
        assert ok.json() == {"pdq": env.core.hash_photo(make_photo(7)).pdq}
        # Coop's flow: hash by URL, then look each signal up
        bank = env.make_bank()
        added = env.client.post(
            f"/c/bank/{bank}/content",
            params={"url": f"{media_server}/p.jpg"},
            json={"metadata": {"content_id": "from-url"}},
            headers=env.curator,
        ).json()
        assert env.core.banks.get_content(bank, added["id"]).external_id == "from-url"
        found = env.client.get(
            "/m/lookup", params={"url": f"{media_server}/p.jpg"}, headers=env.matcher
        )
        assert found.json() == {"pdq": {bank: [{"bank_content_id": added["id"], "distance": "0"}]}}
        unkeyed = env.client.get(
            "/m/lookup",
            params={"url": f"{media_server}/p.jpg", "signal_type": "pdq"},
            headers=env.matcher,
        )
        assert unkeyed.json() == {bank: [{"bank_content_id": added["id"], "distance": "0"}]}
        # not media, cut short, redirected to an unlisted host, other host
        for url in (
            f"{media_server}/text",
            f"{media_server}/truncated",
            f"{media_server}/redirect",
            "http://example.org/",
        ):
            response = env.client.get("/h/hash", params={"url": url}, headers=env.matcher)
            assert 400 <= response.status_code < 500, (url, response.text)


# the IPv4 address behind each is link-local or private, though Python 3.11 calls some global
HIDDEN_IPV4 = [
    "64:ff9b::a9fe:a9fe",  # NAT64 well-known prefix -> 169.254.169.254
    "64:ff9b::a00:1",  # NAT64 -> 10.0.0.1
    "64:ff9b:1::a9fe:a9fe",  # NAT64 local-use prefix
    "2002:a9fe:a9fe::1",  # 6to4 -> 169.254.169.254
    "2002:7f00:1::",  # 6to4 -> 127.0.0.1
    "2001:0:4136:e378:8000:63bf:5601:5601",  # Teredo, client 169.254.169.254
    "::ffff:a9fe:a9fe",  # IPv4-mapped
    "::a9fe:a9fe",  # IPv4-compatible (deprecated)
    "10.1.2.3",
    "fd00::1234",
]


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Names ending in `.test` resolve to the address put in the returned dict."""
    answers: dict[str, str] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host: str, port: object, *args: object, **kwargs: object) -> list[object]:
        if host in answers:
            address = answers[host]
            if ":" in address:
                return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))]
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, port, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


@pytest.mark.parametrize("address", HIDDEN_IPV4)
def test_url_fetching_refuses_ipv4_hidden_in_ipv6(
    tmp_path: Path, fake_dns: dict[str, str], address: str
) -> None:
    fake_dns["media.test"] = address
    for env in _open(tmp_path, hma_fetch_urls="public"):
        response = env.client.get(
            "/h/hash", params={"url": "http://media.test/p.jpg"}, headers=env.matcher
        )
        assert response.status_code == 403, response.text
        message = response.json()["message"]
        assert "non-public" in message
        # the caller isn't told where the name points inside the network
        shown = message.lower()
        assert address not in shown
        assert "169.254" not in shown and "10.0.0.1" not in shown and "127.0.0.1" not in shown


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("64:ff9b::808:808", True),  # NAT64 to a public address
        ("2002:808:808::1", True),  # 6to4 from a public address
        ("2606:4700::1111", True),
        ("8.8.8.8", True),
        ("224.0.0.1", False),
        ("ff02::1", False),
        *[(a, False) for a in HIDDEN_IPV4],
    ],
)
def test_public_address_check(address: str, public: bool) -> None:
    import ipaddress

    assert fetch.is_public(ipaddress.ip_address(address)) is public


def test_url_fetching_has_a_total_deadline(
    tmp_path: Path, media_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # /slow drips 40 bytes over 4 s, each read quick: only the total deadline stops it with
    # this message (without one, the fetch ends 4 s later as a truncated download).
    monkeypatch.setattr(fetch, "FETCH_DEADLINE", 0.5)
    for env in _open(tmp_path, hma_fetch_urls="127.0.0.1"):
        response = env.client.get(
            "/h/hash", params={"url": f"{media_server}/slow"}, headers=env.matcher
        )
        assert response.status_code == 400, response.text
        assert "took longer than 0.5 s" in response.json()["message"]


# --- HMA drop-in: partial matching, content state, probes, compare --------------------------


def test_partial_enabled_ratio_is_a_coin_flip_per_lookup(env: Env) -> None:
    half = env.client.post(
        "/c/banks", json={"name": "HALF", "enabled_ratio": 0.5}, headers=env.curator
    ).json()
    assert half == {"name": "HALF", "matching_enabled_ratio": 0.5}
    env.add_signal("HALF", {"pdq": PDQ_A})
    env.add_signal(env.make_bank("FULL"), {"pdq": PDQ_A})
    seen: dict[bool, int] = {True: 0, False: 0}
    for seed in range(40):
        params = {"signal_type": "pdq", "signal": PDQ_A, "seed": str(seed)}
        found = env.client.get("/m/lookup", params=params, headers=env.matcher).json()
        assert "FULL" in found
        seen["HALF" in found] += 1
        # the same seed flips the same way; bypass_coinflip searches every bank
        again = env.client.get("/m/lookup", params=params, headers=env.matcher).json()
        assert again == found
        every = env.client.get(
            "/m/lookup", params={**params, "bypass_coinflip": "true"}, headers=env.matcher
        ).json()
        assert set(every) == {"HALF", "FULL"}
    assert seen[True] and seen[False]
    # `enabled` puts the bank back to every look-up; the native API shows it enabled
    put = env.client.put("/c/bank/HALF", json={"enabled": True}, headers=env.curator)
    assert put.json()["matching_enabled_ratio"] == 1.0
    assert env.core.banks.get("HALF").enabled is True


def test_hma_bank_names_are_upper_with_underscore(env: Env) -> None:
    for name in ("lower", "1_LEADING_DIGIT", "HAS-DASH", "A" * 129):
        response = env.client.post("/c/banks", json={"name": name}, headers=env.curator)
        assert response.status_code == 400, name
        assert "UPPER_WITH_UNDERSCORE" in response.json()["message"]
    # banks made through Lykta's own API keep its names and stay reachable here
    env.core.banks.create("native-name.v1")
    shown = env.client.get("/c/bank/native-name.v1", headers=env.curator)
    assert shown.json()["name"] == "native-name.v1"
    renamed = env.client.put("/c/bank/native-name.v1", json={"enabled": False}, headers=env.curator)
    assert renamed.status_code == 200


def test_metadata_and_notes_are_checked_like_hma(env: Env) -> None:
    bank = env.make_bank()
    photo = make_photo(5)
    for data in (
        {"metadata": '{"unknown": 1}'},
        {"metadata": "not json"},
        {"metadata": "[" * 100_000},
        {"metadata": '{"json": "not an object"}'},
        {"note": "x" * 256},
    ):
        response = env.client.post(
            f"/c/bank/{bank}/content",
            files={"photo": ("x.jpg", photo, "image/jpeg")},
            data=data,
            headers=env.curator,
        )
        assert response.status_code == 400, data
        assert response.json()["message"]
    for body in ({"pdq": PDQ_A, "note": 5}, {"pdq": PDQ_A, "note": "y" * 256}):
        response = env.client.post(f"/c/bank/{bank}/signal", json=body, headers=env.curator)
        assert response.status_code == 400, body
    assert env.core.banks.get(bank).content_count == 0


def test_content_update_checks_its_fields(env: Env) -> None:
    bank = env.make_bank()
    content_id = env.add_signal(bank, {"pdq": PDQ_A})
    path = f"/c/bank/{bank}/content/{content_id}"
    for body in (
        {"disable_until_ts": -1},
        {"disable_until_ts": "soon"},
        {"disable_until_ts": 1.5},
        {"note": "z" * 256},
        ["note"],
    ):
        response = env.client.put(path, json=body, headers=env.curator)
        assert response.status_code == 400, body
    assert (
        env.client.put(f"/c/bank/{bank}/content/999", json={}, headers=env.curator).status_code
        == 404
    )
    assert env.client.put("/c/bank/NOPE/content/1", json={}, headers=env.curator).status_code == 404
    disabled = env.client.put(path, json={"disable_until_ts": 0}, headers=env.curator)
    assert disabled.json()["disable_until_ts"] == 0
    assert env.core.banks.get_content(bank, content_id).disable_until_ts == 0


def test_status_live_needs_no_token(env: Env) -> None:
    response = env.client.get("/status/live")
    assert (response.status_code, response.text) == (200, "I-AM-ALIVE")


def test_hma_spec_holds_the_hma_routes(env: Env) -> None:
    spec = env.client.get("/openapi/openapi.json").json()
    assert spec["info"]["title"] == "Open Media Match API"
    assert "/c/banks" in spec["paths"] and "/m/compare" in spec["paths"]
    assert not [path for path in spec["paths"] if path.startswith("/api/")]


def test_unknown_routes_answer_in_hmas_shape(env: Env) -> None:
    response = env.client.get("/c/no/such/route", headers=env.curator)
    assert response.status_code == 404
    assert response.json()["message"] and response.json()["detail"]
    wrong_method = env.client.patch("/c/banks", headers=env.curator)
    assert wrong_method.status_code == 405
    assert wrong_method.json()["message"]


def test_compare_exact_and_unknown_types(env: Env) -> None:
    same = env.client.post(
        "/m/compare", json={"video_md5": [MD5, MD5.upper()]}, headers=env.matcher
    )
    assert same.json() == {"video_md5": [True, {"distance": 0}]}
    far = env.client.post("/m/compare", json={"pdq": [PDQ_A, PDQ_FAR]}, headers=env.matcher)
    assert far.json() == {"pdq": [False, {"distance": 256}]}
    for body in ({"tmk": [MD5, MD5]}, {"pdq": [PDQ_A, 5]}, "text"):
        response = env.client.post("/m/compare", json=body, headers=env.matcher)
        assert response.status_code == 400, body
    assert env.client.post("/m/compare", json={"pdq": [PDQ_A, PDQ_A]}).status_code == 401


def test_disabled_content_does_not_match_until_its_time(env: Env) -> None:
    bank = env.make_bank()
    content_id = env.add_signal(bank, {"pdq": PDQ_A})
    path = f"/c/bank/{bank}/content/{content_id}"
    lookup = {"signal_type": "pdq", "signal": PDQ_A}

    def found() -> dict[str, object]:
        return dict(env.client.get("/m/lookup", params=lookup, headers=env.matcher).json())

    assert bank in found()
    env.client.put(path, json={"disable_until_ts": 0}, headers=env.curator)
    assert found() == {}
    assert env.core.lookup_hash("pdq", PDQ_A).matches == []  # Lykta's own look-ups too
    later = int(time.time()) + 3600
    env.client.put(path, json={"disable_until_ts": later}, headers=env.curator)
    assert found() == {}
    past = int(time.time()) - 1
    env.client.put(path, json={"disable_until_ts": str(past)}, headers=env.curator)
    assert bank in found()
    env.client.put(path, json={"disable_until_ts": 0}, headers=env.curator)
    env.client.put(path, json={"disable_until_ts": 1}, headers=env.curator)
    assert bank in found()


# --- the second path (local features, the photo inside a screenshot) ----------------------


def _robust_and_plain(env: Env, photo: bytes) -> dict[str, int]:
    """Banks `robust` (local features) and `plain`, each holding ``photo``: content ids."""
    ids = {}
    for bank, local_features in (("robust", True), ("plain", False)):
        env.core.banks.create(bank, local_features=local_features)
        ids[bank] = env.core.add_media(bank, photo, external_id="photo").content_id
    return ids


def test_lookup_upload_takes_the_second_path_where_pdq_misses(env: Env) -> None:
    from tests.hashing.imagegen import cropped, encode, make_textured_photo, rotated, screenshot

    photo = make_textured_photo(seed=7)
    ids = _robust_and_plain(env, encode(photo))
    edited = encode(rotated(cropped(photo, 0.1, 1), 4))
    found = env.client.post(
        "/m/lookup", files={"photo": ("e.jpg", edited)}, headers=env.matcher
    ).json()
    # Only the bank with local features, with the inlier count, never a Hamming distance.
    [match] = found["pdq"]["robust"]
    assert set(found["pdq"]) == {"robust"} and match["bank_content_id"] == ids["robust"]
    kind, inliers = match["distance"].split(":")
    assert kind == "orb" and int(inliers) >= 25
    shot = encode(screenshot(photo, seed=2))
    found = env.client.post(
        "/m/lookup?types=pdq,md5", files={"photo": ("s.jpg", shot)}, headers=env.matcher
    ).json()
    # The photo inside the screenshot, by PDQ, in every bank.
    assert found["md5"] == {} and set(found["pdq"]) == {"robust", "plain"}
    assert int(found["pdq"]["plain"][0]["distance"]) <= 31
    unrelated = encode(make_textured_photo(seed=8))
    found = env.client.post(
        "/m/lookup", files={"photo": ("u.jpg", unrelated)}, headers=env.matcher
    ).json()
    assert found == {"pdq": {}}


def test_lookup_upload_of_an_edited_video_matches_by_its_key_frames(
    env: Env, tmp_path: Path
) -> None:
    from tests.videogen import Edit, cropped_and_turned, write_video

    def clip(name: str, edit: Edit | None = None) -> bytes:
        path = write_video(
            tmp_path / name, [81, 82, 83], scene_seconds=3, size=(320, 240), textured=True,
            edit=edit,
        )  # fmt: skip
        return path.read_bytes()

    ids = _robust_and_plain(env, clip("original.mp4"))
    found = env.client.post(
        "/m/lookup", files={"video": ("t.mp4", clip("turned.mp4", cropped_and_turned))},
        headers=env.matcher,
    ).json()  # fmt: skip
    assert found["video_md5"] == {} and set(found["vpdq"]) == {"robust"}
    [match] = found["vpdq"]["robust"]
    assert match["bank_content_id"] == ids["robust"] and match["distance"].endswith("%]")
