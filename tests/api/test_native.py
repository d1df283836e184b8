"""The native HTTP API on SQLite and PostgreSQL: tokens and scopes, hashing and look-ups,
banks and content, import and export, and a clear 4xx (never a 500) for bad input."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lykta.api.main import create_app
from lykta.app import Lykta
from tests.conftest import Tokens, make_photo, make_settings
from tests.videogen import still_video

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"


def test_health_needs_no_token(client: TestClient) -> None:
    assert client.get("/health").json() == {"ok": True}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/status"),
        ("get", f"/api/v1/lookup?hash={PDQ}"),
        ("post", "/api/v1/lookup/batch"),
        ("get", "/api/v1/banks"),
        ("post", "/api/v1/banks"),
        ("delete", "/api/v1/banks/a"),
        ("get", "/api/v1/banks/a/export"),
    ],
)
def test_every_route_needs_a_valid_token(
    client: TestClient, tokens: Tokens, method: str, path: str
) -> None:
    response = client.request(method, path)
    assert response.status_code == 401
    assert "bearer token" in response.json()["detail"]
    response = client.request(method, path, headers={"Authorization": "Bearer lykta_wrong"})
    assert response.status_code == 401
    assert response.json()["detail"] == "invalid or revoked token"


def test_scopes(client: TestClient, tokens: Tokens) -> None:
    matcher = tokens.header("matcher")
    assert client.get("/api/v1/status", headers=matcher).status_code == 200
    response = client.post("/api/v1/banks", json={"name": "a"}, headers=matcher)
    assert response.status_code == 403
    assert "needs 'curator'" in response.json()["detail"]
    assert (
        client.post(
            "/api/v1/banks", json={"name": "a"}, headers=tokens.header("curator")
        ).status_code
        == 201
    )
    assert client.get("/api/v1/banks", headers=tokens.header("admin")).status_code == 200


def test_revoked_token_is_refused(core: Lykta, client: TestClient, tokens: Tokens) -> None:
    from lykta.auth.tokens import Scope

    info, secret = core.tokens.create(Scope.MATCHER, "temp")
    core.tokens.revoke(info.id)
    # Servers reload their table of live tokens every second: a reload between the two
    # lines above may let the token through until the next one.
    deadline = time.monotonic() + 30
    while client.get("/api/v1/status", headers={"Authorization": f"Bearer {secret}"}).is_success:
        assert time.monotonic() < deadline, "the revoked token still works"
        time.sleep(0.1)


def test_status(client: TestClient, tokens: Tokens) -> None:
    body = client.get("/api/v1/status", headers=tokens.header("matcher")).json()
    assert body["ok"] is True and body["database"] is True
    assert body["index_size"] == {"pdq": 0, "md5": 0, "sha256": 0, "orb": 0}


def test_bank_crud_and_content(client: TestClient, tokens: Tokens) -> None:
    h = tokens.header("curator")
    created = client.post(
        "/api/v1/banks", json={"name": "ncmec", "source": "NCMEC", "pdq_distance": 20}, headers=h
    )
    assert created.status_code == 201 and created.json()["pdq_distance"] == 20
    assert created.json()["local_features"] is False
    changed = client.patch("/api/v1/banks/ncmec", json={"local_features": True}, headers=h)
    assert changed.status_code == 200 and changed.json()["local_features"] is True
    refused = client.patch("/api/v1/banks/ncmec", json={"local_features": "maybe"}, headers=h)
    assert refused.status_code == 422
    client.patch("/api/v1/banks/ncmec", json={"local_features": False}, headers=h)
    assert client.post("/api/v1/banks", json={"name": "ncmec"}, headers=h).status_code == 409
    added = client.post(
        "/api/v1/banks/ncmec/content",
        json={"hash": PDQ, "external_id": "img-1", "labels": ["A1"]},
        headers=h,
    )
    assert added.status_code == 201 and added.json()["added"] == 1
    [content] = client.get("/api/v1/banks/ncmec/content", headers=h).json()
    assert (content["hashes"], content["external_id"], content["labels"]) == (
        [{"kind": "pdq", "value": PDQ, "quality": None, "seconds": None}], "img-1", ["A1"],
    )  # fmt: skip
    assert added.json()["content_ids"] == [content["id"]]
    assert (
        client.get(f"/api/v1/banks/ncmec/content/{content['id']}", headers=h).json()["id"]
        == content["id"]
    )
    assert client.get("/api/v1/banks/ncmec", headers=h).json()["content_count"] == 1

    found = client.get(f"/api/v1/lookup?hash={PDQ}", headers=tokens.header("matcher")).json()
    assert [(m["bank"], m["external_id"], m["distance"]) for m in found["matches"]] == [
        ("ncmec", "img-1", 0)
    ]

    patched = client.patch("/api/v1/banks/ncmec", json={"enabled": False}, headers=h)
    assert patched.status_code == 200 and patched.json()["enabled"] is False
    assert client.get(f"/api/v1/lookup?hash={PDQ}", headers=h).json()["matches"] == []

    assert (
        client.delete(f"/api/v1/banks/ncmec/content/{content['id']}", headers=h).status_code == 204
    )
    assert (
        client.delete(f"/api/v1/banks/ncmec/content/{content['id']}", headers=h).status_code == 404
    )
    assert client.delete("/api/v1/banks/ncmec", headers=h).status_code == 204
    assert client.get("/api/v1/banks/ncmec", headers=h).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "says"),
    [
        ("get", "/api/v1/lookup?hash=xyz", None, 422, "hex"),
        ("get", f"/api/v1/lookup?hash={PDQ}&kind=sha1", None, 422, "sha1"),
        ("get", f"/api/v1/lookup?hash={PDQ}&quality=101", None, 422, "quality"),
        ("post", "/api/v1/banks", {"name": "bad name"}, 422, "bank name"),
        ("post", "/api/v1/banks", {"name": "x", "pdq_distance": -1}, 422, "pdq_distance"),
        ("post", "/api/v1/banks", {}, 422, "name"),
        ("patch", "/api/v1/banks/missing", {"enabled": False}, 404, "missing"),
        ("patch", "/api/v1/banks/a", {"enabled": None}, 422, "null"),
        ("post", "/api/v1/banks/a/content", {"hash": "abc"}, 422, "hex"),
        ("post", "/api/v1/banks/missing/content", {"hash": PDQ}, 404, "missing"),
        ("get", "/api/v1/banks/a/content?limit=0", None, 422, "limit"),
        ("get", "/api/v1/banks/a/content/99999999999999999999", None, 422, "content_id"),
        ("delete", "/api/v1/banks/a/content/0", None, 422, "content_id"),
        ("get", "/api/v1/banks/a/export?format=xml", None, 422, "format"),
        (
            "post",
            "/api/v1/lookup/batch",
            {"hashes": [{"hash": PDQ}, {"hash": "zz"}]},
            422,
            "hashes[1]",
        ),
        ("post", "/api/v1/lookup/batch", {"nope": 1}, 422, "hashes"),
    ],
)
def test_bad_input_is_a_clear_4xx(
    client: TestClient, tokens: Tokens, method: str, path: str, body: object, status: int, says: str
) -> None:
    h = tokens.header("curator")
    client.post("/api/v1/banks", json={"name": "a"}, headers=h)
    response = client.request(method, path, json=body, headers=h)
    assert response.status_code == status, response.text
    assert says in response.json()["detail"].lower()


def test_hash_and_lookup_upload(client: TestClient, tokens: Tokens, photo: bytes) -> None:
    h = tokens.header("curator")
    hashed = client.post("/api/v1/hash", files={"file": ("a.jpg", photo)}, headers=h).json()
    assert len(hashed["pdq"]) == 64 and len(hashed["md5"]) == 32 and len(hashed["sha256"]) == 64
    assert {v["transform"] for v in hashed["variants"]} >= {"original", "mirror", "rotate90"}
    client.post("/api/v1/banks", json={"name": "a"}, headers=h)
    added = client.post(
        "/api/v1/banks/a/content/media", files={"file": ("known-1.jpg", photo)}, headers=h
    )
    assert added.json()["added"] == 1  # one photo: one content item with its three hashes
    found = client.post(
        "/api/v1/lookup", files={"file": ("b.jpg", photo)}, headers=tokens.header("matcher")
    ).json()
    # One match per content item, by its strongest hash: the very file's digest.
    assert [(m["external_id"], m["kind"]) for m in found["matches"]] == [("known-1", "md5")]
    assert found["hashes"]["pdq"] == hashed["pdq"]
    other = client.post(
        "/api/v1/lookup", files={"file": ("c.jpg", make_photo(99))}, headers=h
    ).json()
    assert other["matches"] == []


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "empty"),
        (b"this is text, not an image", "not a supported image"),
        (make_photo(2)[:2000], "truncated"),
    ],
)
def test_bad_uploads(client: TestClient, tokens: Tokens, data: bytes, says: str) -> None:
    response = client.post(
        "/api/v1/lookup", files={"file": ("x.jpg", data)}, headers=tokens.header("matcher")
    )
    assert response.status_code == 422, response.text
    assert says in response.json()["detail"]


def test_upload_limit(core: Lykta, tokens: Tokens) -> None:
    from dataclasses import replace

    from lykta.api.main import create_app

    core.settings = replace(core.settings, max_upload_bytes=1000)
    with TestClient(create_app(core, follow_changes=False)) as small:
        response = small.post(
            "/api/v1/hash",
            files={"file": ("x.jpg", make_photo(3))},
            headers=tokens.header("matcher"),
        )
    assert response.status_code == 413
    assert "LYKTA_MAX_UPLOAD_BYTES" in response.json()["detail"]


def test_import_export_round_trip(client: TestClient, tokens: Tokens) -> None:
    h = tokens.header("curator")
    client.post("/api/v1/banks", json={"name": "a"}, headers=h)
    bad = f"kind,hash,id\npdq,{PDQ},one\nmd5,nothex,two\n"
    response = client.post(
        "/api/v1/banks/a/import?format=csv", files={"file": ("list.csv", bad)}, headers=h
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("list.csv:3:")
    assert client.get("/api/v1/banks/a", headers=h).json()["content_count"] == 0
    response = client.post(
        "/api/v1/banks/a/import?format=csv&skip_invalid=true",
        files={"file": ("list.csv", bad)},
        headers=h,
    )
    assert response.json()["added"] == 1 and response.json()["skipped"][0]["line"] == 3
    good = f"kind,hash,id,labels\nmd5,{MD5},two,x;y\n"
    client.post("/api/v1/banks/a/import?format=csv", files={"file": ("l.csv", good)}, headers=h)
    exported = client.get("/api/v1/banks/a/export", headers=h)
    assert exported.status_code == 200
    assert exported.text == (
        f"kind,hash,external_id,labels,quality,seconds\npdq,{PDQ},one,,,\nmd5,{MD5},two,x;y,,\n"
    )
    not_utf8 = client.post(
        "/api/v1/banks/a/import", files={"file": ("l.txt", b"\xff\xfe\x00")}, headers=h
    )
    assert not_utf8.status_code == 422 and "UTF-8" in not_utf8.json()["detail"]


def test_batch_lookup(client: TestClient, tokens: Tokens) -> None:
    h = tokens.header("curator")
    client.post("/api/v1/banks", json={"name": "a"}, headers=h)
    client.post("/api/v1/banks/a/content", json={"hash": PDQ, "external_id": "x"}, headers=h)
    body = {"hashes": [{"hash": PDQ}, {"hash": "0" * 64}, {"kind": "md5", "hash": MD5}]}
    results = client.post(
        "/api/v1/lookup/batch", json=body, headers=tokens.header("matcher")
    ).json()["results"]
    assert [len(r["matches"]) for r in results] == [1, 0, 0]
    assert results[0]["matches"][0]["external_id"] == "x"


def test_openapi_docs_are_served(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/v1/lookup" in spec["paths"] and "/api/v1/banks/{name}/import" in spec["paths"]


def test_oversized_bodies_are_refused_before_reading(core: Lykta, tokens: Tokens) -> None:
    from dataclasses import replace

    from lykta.api.main import BODY_SLACK, create_app

    core.settings = replace(core.settings, max_upload_bytes=1000)
    big = b"x" * (1000 + BODY_SLACK + 1)
    with TestClient(create_app(core, follow_changes=False)) as small:
        declared = small.post(
            "/api/v1/hash", files={"file": ("x.jpg", big)}, headers=tokens.header("matcher")
        )
        assert declared.status_code == 413
        assert "LYKTA_MAX_UPLOAD_BYTES" in declared.json()["detail"]

        def chunks():  # type: ignore[no-untyped-def]
            for _ in range(3):
                yield big[: len(big) // 2]

        streamed = small.post(
            "/api/v1/lookup/batch",
            content=chunks(),
            headers={**tokens.header("matcher"), "Content-Type": "application/json"},
        )
        assert streamed.status_code == 413


def test_bank_filter_names_must_exist_and_kinds_ignore_case(
    client: TestClient, tokens: Tokens
) -> None:
    h = tokens.header("curator")
    client.post("/api/v1/banks", json={"name": "a"}, headers=h)
    client.post("/api/v1/banks/a/content", json={"kind": "MD5", "hash": MD5}, headers=h)
    found = client.get(f"/api/v1/lookup?hash={MD5}&kind=MD5&bank=a", headers=h)
    assert found.status_code == 200 and len(found.json()["matches"]) == 1
    typo = client.get(f"/api/v1/lookup?hash={MD5}&kind=md5&bank=aa", headers=h)
    assert typo.status_code == 404 and "'aa'" in typo.json()["detail"]
    empty = client.post(
        "/api/v1/lookup/batch", json={"hashes": [{"hash": PDQ}], "banks": []}, headers=h
    )
    assert empty.status_code == 422 and "at least one bank" in empty.json()["detail"]


def test_labels_and_descriptions_have_size_limits(client: TestClient, tokens: Tokens) -> None:
    h = tokens.header("curator")
    big = client.post("/api/v1/banks", json={"name": "a", "description": "x" * 4097}, headers=h)
    assert big.status_code == 422 and "description" in big.json()["detail"]
    assert client.post("/api/v1/banks", json={"name": "a"}, headers=h).status_code == 201
    big = client.patch("/api/v1/banks/a", json={"source": "x" * 10_000_000}, headers=h)
    assert big.status_code == 422
    big = client.patch("/api/v1/banks/a", json={"source": "x" * 5000}, headers=h)
    assert big.status_code == 422 and "source" in big.json()["detail"]
    for labels, says in (([str(n) for n in range(65)], "64"), (["x" * 257], "256")):
        added = client.post(
            "/api/v1/banks/a/content", json={"hash": PDQ, "labels": labels}, headers=h
        )
        assert added.status_code == 422 and says in added.json()["detail"], added.text
    imported = client.post(
        "/api/v1/banks/a/import", files={"file": ("l.txt", f"{PDQ},{'x' * 257}\n")}, headers=h
    )
    assert imported.status_code == 422
    assert imported.json()["detail"].startswith("l.txt:1: label 'xxx")


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
@pytest.mark.parametrize("fmt", ["text", "csv"])
def test_import_reads_any_line_ending(
    client: TestClient, tokens: Tokens, fmt: str, newline: str
) -> None:
    h = tokens.header("curator")
    client.post("/api/v1/banks", json={"name": "a"}, headers=h)
    lines = [f"{PDQ},x", f"{'0' * 63}1,y"]
    if fmt == "csv":
        lines.insert(0, "hash,labels")
    body = newline.join(lines) + newline
    response = client.post(
        f"/api/v1/banks/a/import?format={fmt}", files={"file": ("l", body.encode())}, headers=h
    )
    assert response.status_code == 200, response.text
    assert response.json()["added"] == 2


@pytest.mark.parametrize("fmt", ["csv", "text", "vpdq", "threatexchange"])
def test_an_export_imports_back_by_its_file_name(
    client: TestClient, tokens: Tokens, fmt: str
) -> None:
    """An export fed back into the import, with no format= given, reads as it was written:
    the format comes from the file name the export offers, as `lykta bank import` does."""
    h = tokens.header("curator")
    client.post("/api/v1/banks", json={"name": "a"}, headers=h)
    added = client.post(
        "/api/v1/banks/a/content",
        json={"kind": "pdq", "hash": PDQ, "external_id": "photo-1", "labels": ["x"]},
        headers=h,
    )
    assert added.status_code == 201 and added.json()["content_ids"] == [1]
    exported = client.get(f"/api/v1/banks/a/export?format={fmt}", headers=h)
    filename = exported.headers["Content-Disposition"].split('filename="')[1].rstrip('"')
    client.post("/api/v1/banks", json={"name": "b"}, headers=h)
    imported = client.post(
        "/api/v1/banks/b/import", files={"file": (filename, exported.content)}, headers=h
    )
    assert imported.status_code == 200, imported.text
    assert imported.json()["added"] == 1
    [item] = client.get("/api/v1/banks/b/content", headers=h).json()
    # vpdq holds one video a file, named after the file; threatexchange has no ids.
    assert item["external_id"] == {"vpdq": "a", "threatexchange": None}.get(fmt, "photo-1")


def test_vpdq_export_says_what_it_left_out(client: TestClient, tokens: Tokens) -> None:
    h = tokens.header("curator")
    client.post("/api/v1/banks", json={"name": "a"}, headers=h)
    for kind, value in (("pdq", PDQ), ("md5", MD5)):
        client.post("/api/v1/banks/a/content", json={"kind": kind, "hash": value}, headers=h)
    vpdq = client.get("/api/v1/banks/a/export?format=vpdq", headers=h)
    assert vpdq.status_code == 200 and vpdq.text == f"0,,{PDQ},0.000\n"  # no made-up quality
    assert vpdq.headers["X-Lykta-Export-Skipped"] == (
        "vpdq holds only pdq hashes: left out 1 md5; export as csv to keep every kind"
    )
    csv = client.get("/api/v1/banks/a/export?format=csv", headers=h)
    assert "X-Lykta-Export-Skipped" not in csv.headers and MD5 in csv.text


def test_a_video_is_added_by_upload_or_streamed_body(
    client: TestClient, tokens: Tokens, tmp_path: Path
) -> None:
    h = tokens.header("curator")
    client.post("/api/v1/banks", json={"name": "v"}, headers=h)
    clip = still_video(tmp_path / "clip.mp4", [1, 2], fps=5).read_bytes()
    uploaded = client.post(
        "/api/v1/banks/v/content/media", files={"file": ("clip-1.mp4", clip)}, headers=h
    )
    assert uploaded.status_code == 201 and uploaded.json()["added"] == 1
    [content] = client.get("/api/v1/banks/v/content", headers=h).json()
    assert (content["external_id"], content["media_kind"]) == ("clip-1", "video")
    assert sorted({x["seconds"] for x in content["hashes"] if x["kind"] == "pdq"}) == [0.0, 1.0]

    def chunks() -> Iterator[bytes]:  # sent chunked, as a client streams a large file
        for start in range(0, len(clip), 1000):
            yield clip[start : start + 1000]

    streamed = client.post(
        "/api/v1/banks/v/content/stream?external_id=again", content=chunks(), headers=h
    )
    assert streamed.status_code == 201, streamed.text
    assert streamed.json()["duplicates"] == 1  # the same video: every hash already held
    other = still_video(tmp_path / "other.mp4", [3], fps=5).read_bytes()
    streamed = client.post("/api/v1/banks/v/content/stream", content=other, headers=h)
    assert streamed.json()["added"] == 1
    photo = client.post("/api/v1/banks/v/content/stream", content=make_photo(5), headers=h)
    assert photo.status_code == 201 and photo.json()["added"] == 1


@pytest.mark.parametrize(
    ("path", "body", "status", "says"),
    [
        ("/api/v1/banks/v/content/stream", b"", 422, "empty"),
        ("/api/v1/banks/v/content/stream", b"\x00\x00\x00\x18ftypisom" + bytes(99), 422, "video"),
        ("/api/v1/banks/nope/content/stream", b"x", 404, "nope"),
    ],
)
def test_streamed_uploads_say_what_is_wrong(
    client: TestClient, tokens: Tokens, path: str, body: bytes, status: int, says: str
) -> None:
    h = tokens.header("curator")
    client.post("/api/v1/banks", json={"name": "v"}, headers=h)
    response = client.post(path, content=body, headers=h)
    assert response.status_code == status, response.text
    assert says in response.json()["detail"]
    assert client.post(path, content=body, headers=tokens.header("matcher")).status_code == 403


def test_streamed_uploads_have_their_own_limit(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path / "home", max_upload_bytes=2_000, max_stream_upload_bytes=200_000
    )
    core = Lykta.open(settings)
    with TestClient(create_app(core, follow_changes=False)) as c:
        h = Tokens(core).header("curator")
        c.post("/api/v1/banks", json={"name": "v"}, headers=h)
        clip = still_video(tmp_path / "clip.mp4", [1], fps=5).read_bytes()
        assert 2_000 < len(clip) < 200_000
        assert c.post("/api/v1/banks/v/content/stream", content=clip, headers=h).status_code == 201
        photo = c.post("/api/v1/banks/v/content/stream", content=make_photo(6), headers=h)
        assert photo.status_code == 413 and "only videos" in photo.json()["detail"]
        big = c.post("/api/v1/banks/v/content/stream", content=bytes(200_001), headers=h)
        assert big.status_code == 413 and "LYKTA_MAX_STREAM_UPLOAD_BYTES" in big.json()["detail"]
        media = c.post("/api/v1/banks/v/content/media", files={"file": ("c.mp4", clip)}, headers=h)
        assert media.status_code == 413
    core.close()


def test_upload_lookup_by_local_features(client: TestClient, tokens: Tokens) -> None:
    from tests.hashing.imagegen import cropped, encode, make_textured_photo, rotated

    h = tokens.header("curator")
    client.post("/api/v1/banks", json={"name": "robust", "local_features": True}, headers=h)
    photo = make_textured_photo(seed=61)
    added = client.post(
        "/api/v1/banks/robust/content/media", files={"file": ("p.jpg", encode(photo))}, headers=h
    )
    assert added.status_code == 201, added.text
    edited = {"file": ("q.jpg", encode(rotated(cropped(photo, 0.1, 2), -5)))}
    m = tokens.header("matcher")
    [match] = client.post("/api/v1/lookup", files=edited, headers=m).json()["matches"]
    assert (match["kind"], match["transform"]) == ("orb", "local-features")
    assert match["distance"] >= 25
    off = client.post("/api/v1/lookup?local_features=false", files=edited, headers=m)
    assert off.status_code == 200 and off.json()["matches"] == []
    # Keypoints are no hash to look up on their own.
    orb = client.get("/api/v1/lookup", params={"hash": "00" * 1816, "kind": "orb"}, headers=m)
    assert orb.status_code == 422 and "look the photo up" in orb.json()["detail"]


def test_every_timestamp_is_utc_with_its_zone(client: TestClient, tokens: Tokens) -> None:
    """SQLite hands times back without their zone; every response still says UTC."""
    from datetime import UTC, datetime, timedelta

    h = tokens.header("curator")
    created = client.post("/api/v1/banks", json={"name": "a"}, headers=h).json()
    client.post("/api/v1/banks/a/content", json={"kind": "pdq", "hash": PDQ}, headers=h)
    moments = [
        created["created_at"],
        client.get("/api/v1/banks/a", headers=h).json()["created_at"],
        *(bank["created_at"] for bank in client.get("/api/v1/banks", headers=h).json()),
        *(item["added_at"] for item in client.get("/api/v1/banks/a/content", headers=h).json()),
    ]
    for moment in moments:
        parsed = datetime.fromisoformat(moment)
        assert parsed.utcoffset() == timedelta(0), moment
        assert abs(datetime.now(UTC) - parsed) < timedelta(minutes=10), moment
