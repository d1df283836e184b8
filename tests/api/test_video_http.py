"""Videos through the HTTP doors, on generated benign clips: the native look-up by upload and
by streamed body (with shares and segments), and HMA's video signals (`video_md5`, `vpdq`)
for hashing, banking and look-ups."""

from __future__ import annotations

import hashlib
import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lykta.api.main import create_app
from lykta.app import Lykta
from lykta.auth.tokens import Scope
from tests.conftest import Tokens, make_photo, make_settings
from tests.videogen import cropped_and_turned, write_video

SCENES = [61, 62, 63]  # the banked clip: three 3-second scenes


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("clips")
    paths = {
        "original": write_video(folder / "original.mp4", SCENES, scene_seconds=3),
        "excerpt": write_video(folder / "excerpt.mp4", SCENES, scene_seconds=3, start=3, end=9),
        "unrelated": write_video(folder / "unrelated.mp4", [71, 72], scene_seconds=3),
    }
    return {name: path.read_bytes() for name, path in paths.items()}


@pytest.fixture
def banked(core: Lykta, clips: dict[str, bytes]) -> int:
    """The id of the original clip, banked in `videos`."""
    core.banks.create("videos")
    return core.add_media("videos", clips["original"], external_id="original").content_id


def chunked(data: bytes, size: int = 4096) -> Iterator[bytes]:
    """The body sent chunked, as a client streams a file of gigabytes."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _excerpt_match(answer: dict[str, object], banked: int) -> dict[str, object]:
    matches = answer["matches"]
    assert isinstance(matches, list)
    [match] = matches
    assert match["content_id"] == banked and match["kind"] == "pdq"
    assert match["query_share"] >= 0.9
    assert 0.5 <= match["bank_share"] <= 0.8  # 6 of 9 seconds
    [segment] = match["segments"]
    assert abs(segment["bank_start"] - 3) <= 1
    return match


def test_a_video_is_looked_up_by_upload_and_by_streamed_body(
    client: TestClient, tokens: Tokens, banked: int, clips: dict[str, bytes]
) -> None:
    h = tokens.header("matcher")
    uploaded = client.post("/api/v1/lookup", files={"file": ("x.mp4", clips["excerpt"])}, headers=h)
    assert uploaded.status_code == 200, uploaded.text
    answer = uploaded.json()
    match = _excerpt_match(answer, banked)
    hashes = answer["hashes"]
    assert hashes["media_kind"] == "video"
    assert hashes["md5"] == hashlib.md5(clips["excerpt"]).hexdigest()
    assert 5 <= hashes["duration"] <= 7 and hashes["frames"]

    streamed = client.post(
        "/api/v1/lookup/stream?bank=videos", content=chunked(clips["excerpt"]), headers=h
    )
    assert streamed.status_code == 200, streamed.text
    assert _excerpt_match(streamed.json(), banked) == match
    assert streamed.json()["hashes"] == hashes

    unrelated = client.post("/api/v1/lookup/stream", content=clips["unrelated"], headers=h)
    assert unrelated.status_code == 200 and unrelated.json()["matches"] == []
    very_file = client.post("/api/v1/lookup/stream", content=clips["original"], headers=h)
    [whole] = very_file.json()["matches"]
    assert whole["kind"] in {"md5", "sha256"} and whole["query_share"] == 1.0


def test_an_edited_video_matches_by_its_key_frames_local_features(
    client: TestClient, tokens: Tokens, core: Lykta, tmp_path: Path
) -> None:
    core.banks.create("robust", local_features=True)
    original = write_video(tmp_path / "o.mp4", [85, 86], scene_seconds=3, textured=True)
    edited = write_video(
        tmp_path / "e.mp4", [85, 86], scene_seconds=3, textured=True, edit=cropped_and_turned
    ).read_bytes()
    content_id = core.add_media("robust", original, external_id="original").content_id
    h = tokens.header("matcher")
    uploaded = client.post("/api/v1/lookup", files={"file": ("e.mp4", edited)}, headers=h)
    assert uploaded.status_code == 200, uploaded.text
    [match] = uploaded.json()["matches"]
    assert (match["content_id"], match["kind"], match["transform"]) == (
        content_id, "orb", "local-features",
    )  # fmt: skip
    assert match["distance"] >= 25 and match["segments"]
    streamed = client.post("/api/v1/lookup/stream", content=edited, headers=h)
    assert [m["kind"] for m in streamed.json()["matches"]] == ["orb"]
    off = client.post("/api/v1/lookup/stream?local_features=false", content=edited, headers=h)
    assert off.status_code == 200 and off.json()["matches"] == []


def test_a_video_is_hashed_by_upload(
    client: TestClient, tokens: Tokens, core: Lykta, clips: dict[str, bytes]
) -> None:
    clip = clips["excerpt"]
    hashed = client.post(
        "/api/v1/hash", files={"file": ("x.mp4", clip)}, headers=tokens.header("matcher")
    )
    assert hashed.status_code == 200, hashed.text
    answer = hashed.json()
    assert answer["media_kind"] == "video" and answer["sha256"] == hashlib.sha256(clip).hexdigest()
    assert {frame["transform"] for frame in answer["frames"]} == {"original"}
    expected = core.hash_video(io.BytesIO(clip), mirror=False)
    assert [frame["pdq"] for frame in answer["frames"]] == [f.pdq for f in expected.frames]


def test_a_photo_is_looked_up_by_streamed_body_too(
    client: TestClient, tokens: Tokens, core: Lykta
) -> None:
    core.banks.create("photos")
    photo = make_photo(8)
    content_id = core.add_media("photos", photo).content_id
    streamed = client.post("/api/v1/lookup/stream", content=photo, headers=tokens.header("matcher"))
    assert streamed.status_code == 200, streamed.text
    assert [m["content_id"] for m in streamed.json()["matches"]] == [content_id]
    assert streamed.json()["hashes"]["pdq"] == core.hash_photo(photo).pdq


CORRUPT_VIDEO = b"\x00\x00\x00\x18ftypisom" + bytes(99)


@pytest.mark.parametrize(
    ("path", "body", "status", "says"),
    [
        ("/api/v1/lookup/stream", b"", 422, "empty"),
        ("/api/v1/lookup/stream", CORRUPT_VIDEO, 422, "video"),
        ("/api/v1/lookup/stream", b"not media at all", 422, ""),
        ("/api/v1/lookup/stream?bank=nope", b"x", 404, "nope"),
    ],
)
def test_streamed_lookups_say_what_is_wrong(
    client: TestClient, tokens: Tokens, path: str, body: bytes, status: int, says: str
) -> None:
    response = client.post(path, content=body, headers=tokens.header("matcher"))
    assert response.status_code == status, response.text
    assert says in response.json()["detail"] and response.json()["detail"]
    assert client.post(path, content=body).status_code == 401


def test_a_corrupt_video_upload_is_a_422(client: TestClient, tokens: Tokens) -> None:
    response = client.post(
        "/api/v1/lookup",
        files={"file": ("bad.mp4", CORRUPT_VIDEO)},
        headers=tokens.header("matcher"),
    )
    assert response.status_code == 422, response.text
    assert "video" in response.json()["detail"]


def test_streamed_lookups_have_the_streamed_upload_limit(
    tmp_path: Path, clips: dict[str, bytes]
) -> None:
    settings = make_settings(
        tmp_path / "home", max_upload_bytes=2_000, max_stream_upload_bytes=200_000
    )
    core = Lykta.open(settings)
    with TestClient(create_app(core, follow_changes=False)) as c:
        h = Tokens(core).header("matcher")
        clip = clips["unrelated"]
        assert 2_000 < len(clip) < 200_000
        assert c.post("/api/v1/lookup/stream", content=clip, headers=h).status_code == 200
        form = c.post("/api/v1/lookup", files={"file": ("c.mp4", clip)}, headers=h)
        assert form.status_code == 413
        photo = c.post("/api/v1/lookup/stream", content=make_photo(6), headers=h)
        assert photo.status_code == 413 and "only videos" in photo.json()["detail"]
        big = c.post("/api/v1/lookup/stream", content=chunked(bytes(200_001)), headers=h)
        assert big.status_code == 413 and "LYKTA_MAX_STREAM_UPLOAD_BYTES" in big.json()["detail"]
    core.close()


# --- HMA -----------------------------------------------------------------------------------


@pytest.fixture
def hma(core: Lykta) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str]]]:
    matcher = {"Authorization": f"Bearer {core.tokens.create(Scope.MATCHER)[1]}"}
    curator = {"Authorization": f"Bearer {core.tokens.create(Scope.CURATOR)[1]}"}
    with TestClient(create_app(core, follow_changes=False), raise_server_exceptions=False) as c:
        yield c, matcher, curator


def _frames(signal: str) -> list[tuple[str, int, float]]:
    """A vpdq signal read as python-threatexchange's `json_to_vpdq` reads it."""
    frames = []
    for feature in json.loads(signal):
        pdq, quality, seconds = feature.split(",")
        frames.append((pdq, int(quality), float(seconds)))
    return frames


def test_hma_hashes_a_video_as_video_md5_and_vpdq(
    hma: tuple[TestClient, dict[str, str], dict[str, str]], clips: dict[str, bytes]
) -> None:
    client, matcher, _ = hma
    clip = clips["original"]
    hashed = client.post("/h/hash", files={"video": ("v.mp4", clip)}, headers=matcher)
    assert hashed.status_code == 200, hashed.text
    signals = hashed.json()
    assert list(signals) == ["video_md5", "vpdq"]
    assert signals["video_md5"] == hashlib.md5(clip).hexdigest()
    frames = _frames(signals["vpdq"])
    # vPDQ's sampling: a frame a second (sparse sampling may land a frame after the tick),
    # timestamps as VpdqCompactFeature prints them.
    assert [round(seconds) for _, _, seconds in frames] == list(range(9))
    stamps = [feature.rsplit(",", 1)[1] for feature in json.loads(signals["vpdq"])]
    assert stamps[0] == "0.0" and all(f"{float(stamp):.3}" == stamp for stamp in stamps)
    assert all(len(pdq) == 64 and 0 <= quality <= 100 for pdq, quality, _ in frames)
    only = client.post("/h/hash?types=vpdq", files={"video": ("v.mp4", clip)}, headers=matcher)
    assert only.json() == {"vpdq": signals["vpdq"]}


def test_hma_refuses_vpdq_of_what_is_not_a_video(
    hma: tuple[TestClient, dict[str, str], dict[str, str]],
) -> None:
    client, matcher, _ = hma
    for body in (b"text", CORRUPT_VIDEO):
        asked = client.post("/h/hash?types=vpdq", files={"video": ("v.mp4", body)}, headers=matcher)
        assert asked.status_code == 400 and "vpdq" in asked.json()["message"]
        # By default HMA's video MD5 hashes any bytes; vPDQ is left out.
        default = client.post("/h/hash", files={"video": ("v.mp4", body)}, headers=matcher)
        assert default.json() == {"video_md5": hashlib.md5(body).hexdigest()}
    bad = client.get("/m/raw_lookup?signal_type=vpdq&signal=[1]", headers=matcher)
    assert bad.status_code == 400 and "vpdq" in bad.json()["message"]


def test_hma_looks_up_a_video_upload_and_a_vpdq_signal(
    hma: tuple[TestClient, dict[str, str], dict[str, str]], banked: int, clips: dict[str, bytes]
) -> None:
    client, matcher, _ = hma
    same = client.post("/m/lookup", files={"video": ("v.mp4", clips["original"])}, headers=matcher)
    assert same.status_code == 200, same.text
    assert same.json() == {
        "video_md5": {"videos": [{"bank_content_id": banked, "distance": "0"}]},
        "vpdq": {"videos": [{"bank_content_id": banked, "distance": "100%[100%]"}]},
    }
    excerpt = client.post(
        "/m/lookup", files={"video": ("v.mp4", clips["excerpt"])}, headers=matcher
    )
    assert excerpt.json()["video_md5"] == {}
    [found] = excerpt.json()["vpdq"]["videos"]
    assert found["bank_content_id"] == banked and found["distance"].startswith("100%[")

    signal = client.post(
        "/h/hash?types=vpdq", files={"video": ("v.mp4", clips["excerpt"])}, headers=matcher
    ).json()["vpdq"]
    raw = client.get(
        "/m/raw_lookup", params={"signal_type": "vpdq", "signal": signal}, headers=matcher
    )
    assert raw.status_code == 200, raw.text
    assert raw.json() == {"matches": [banked]}
    with_distance = client.get(
        "/m/raw_lookup",
        params={"signal_type": "vpdq", "signal": signal, "include_distance": "true"},
        headers=matcher,
    ).json()["matches"]
    assert [m["bank_content_id"] for m in with_distance] == [banked]
    assert with_distance[0]["distance"].endswith("%]")
    by_signal = client.get(
        "/m/lookup", params={"signal_type": "vpdq", "signal": signal}, headers=matcher
    )
    assert list(by_signal.json()) == ["videos"]
    unrelated = client.post(
        "/h/hash?types=vpdq", files={"video": ("v.mp4", clips["unrelated"])}, headers=matcher
    ).json()["vpdq"]
    nothing = client.get(
        "/m/raw_lookup", params={"signal_type": "vpdq", "signal": unrelated}, headers=matcher
    )
    assert nothing.json() == {"matches": []}


def test_hma_banks_a_video_and_its_vpdq_signal(
    hma: tuple[TestClient, dict[str, str], dict[str, str]], clips: dict[str, bytes]
) -> None:
    client, matcher, curator = hma
    assert client.post("/c/banks", json={"name": "VIDEOS"}, headers=curator).status_code == 201
    added = client.post(
        "/c/bank/VIDEOS/content", files={"video": ("v.mp4", clips["original"])}, headers=curator
    )
    assert added.status_code == 200, added.text
    signals = added.json()["signals"]
    assert signals["video_md5"] == hashlib.md5(clips["original"]).hexdigest()
    assert len(_frames(signals["vpdq"])) >= 3
    shown = client.get(
        f"/c/bank/VIDEOS/content/{added.json()['id']}?include_signals=true", headers=curator
    )
    assert shown.json()["signals"] == signals

    # Banked by its vpdq signal alone (as python-threatexchange hashed it), found by a clip.
    other = client.post(
        "/h/hash?types=vpdq", files={"video": ("v.mp4", clips["unrelated"])}, headers=matcher
    ).json()["vpdq"]
    by_signal = client.post("/c/bank/VIDEOS/signal", json={"vpdq": other}, headers=curator)
    assert by_signal.status_code == 200, by_signal.text
    found = client.post(
        "/m/lookup", files={"video": ("v.mp4", clips["unrelated"])}, headers=matcher
    )
    assert [m["bank_content_id"] for m in found.json()["vpdq"]["VIDEOS"]] == [
        by_signal.json()["id"]
    ]
    bad = client.post("/c/bank/VIDEOS/signal", json={"vpdq": "[]"}, headers=curator)
    assert bad.status_code == 400 and "vpdq" in bad.json()["message"]


@pytest.fixture
def video_server(clips: dict[str, bytes]) -> Iterator[str]:
    """Serves the clips at /<name>.mp4 as video/mp4, on 127.0.0.1."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = clips.get(self.path.strip("/").removesuffix(".mp4"), b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_hma_hashes_and_looks_up_a_video_by_url(
    tmp_path: Path, clips: dict[str, bytes], video_server: str
) -> None:
    core = Lykta.open(make_settings(tmp_path / "home", hma_fetch_urls="127.0.0.1"))
    core.banks.create("VIDEOS")
    banked = core.add_media("VIDEOS", clips["original"]).content_id
    matcher = {"Authorization": f"Bearer {core.tokens.create(Scope.MATCHER)[1]}"}
    with TestClient(create_app(core, follow_changes=False)) as client:
        url = f"{video_server}/excerpt.mp4"
        hashed = client.get("/h/hash", params={"url": url}, headers=matcher)
        assert hashed.status_code == 200, hashed.text
        assert list(hashed.json()) == ["video_md5", "vpdq"]
        assert len(_frames(hashed.json()["vpdq"])) == 6
        found = client.get("/m/lookup", params={"url": url}, headers=matcher)
        assert found.json()["video_md5"] == {}
        assert [m["bank_content_id"] for m in found.json()["vpdq"]["VIDEOS"]] == [banked]
        unkeyed = client.get(
            "/m/lookup", params={"url": url, "signal_type": "vpdq"}, headers=matcher
        )
        assert unkeyed.json() == found.json()["vpdq"]
    core.close()


def test_video_look_ups_over_http_record_alerts_about_the_subject(
    client: TestClient, tokens: Tokens, core: Lykta, banked: int, clips: dict[str, bytes]
) -> None:
    h = tokens.header("matcher")
    uploaded = client.post(
        "/api/v1/lookup?record=true&subject=user:7&source_id=upload-1",
        files={"file": ("x.mp4", clips["excerpt"])},
        headers=h,
    )
    assert uploaded.status_code == 200, uploaded.text
    streamed = client.post(
        "/api/v1/lookup/stream?record=true&subject=user:8", content=clips["excerpt"], headers=h
    )
    assert streamed.status_code == 200, streamed.text
    alerts = {alert.subject: alert for alert in core.alerts.list(source_kind="video")}
    assert set(alerts) == {"user:7", "user:8"}
    assert alerts["user:7"].source_id == "upload-1" and alerts["user:7"].content_id == banked
    refused = client.post("/api/v1/lookup/stream?record=true", content=b"x", headers=h)
    assert refused.status_code == 422 and "subject" in refused.json()["detail"]
