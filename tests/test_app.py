"""The core's services that every door calls: scanning folders, adding media, looking up
by some hash kinds only, and HMA's rule for unknown banks."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image

from lykta.app import Lykta
from lykta.errors import InvalidInput, MediaError, NotFound
from tests.conftest import make_photo
from tests.hashing.imagegen import (
    blurred,
    cropped,
    encode,
    gamma_adjusted,
    greyed,
    make_textured_photo,
    noisy,
    rotated,
    screenshot,
)
from tests.videogen import still_video


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Five files, enough for the scan to hash them in worker processes."""
    root = tmp_path / "photos"
    (root / "nested").mkdir(parents=True)
    (root / "known.jpg").write_bytes(make_photo(20))
    (root / "nested" / "other.png").write_bytes(make_photo(21, fmt="PNG"))
    (root / "nested" / "third.jpg").write_bytes(make_photo(22))
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    (root / "notes.txt").write_text("not an image")
    return root


def test_scan_gives_errors_as_values_and_looks_up(sqlite_core: Lykta, folder: Path) -> None:
    sqlite_core.banks.create("known")
    sqlite_core.add_media("known", folder / "known.jpg")
    told: list[tuple[int, int]] = []
    scanned = list(
        sqlite_core.scan([folder], lookup=True, progress=lambda *seen: told.append(seen))
    )
    by_name = {file.path.name: file for file in scanned}
    assert sorted(by_name) == ["broken.jpg", "known.jpg", "notes.txt", "other.png", "third.jpg"]
    for name in ("broken.jpg", "notes.txt"):
        assert by_name[name].error and by_name[name].hashes is None
    known = by_name["known.jpg"].result
    assert known is not None
    # One match per content item, by its strongest hash: the very file's digest.
    assert [(m.kind, m.external_id) for m in known.matches] == [("md5", "known")]
    assert by_name["other.png"].result is not None and not by_name["other.png"].result.matches
    assert told[0] == (0, 5) and told[-1] == (5, 5)
    assert all(file.result is None for file in sqlite_core.scan([folder]))


def test_scan_checks_the_bank_filter_first(sqlite_core: Lykta, folder: Path) -> None:
    with pytest.raises(NotFound, match="no bank named 'nope'"):
        next(sqlite_core.scan([folder], lookup=True, banks=["nope"]))


def test_add_media_takes_bytes_or_a_path(sqlite_core: Lykta, tmp_path: Path) -> None:
    sqlite_core.banks.create("b")
    photo = tmp_path / "case-12.jpg"
    photo.write_bytes(make_photo(23))
    added = sqlite_core.add_media("b", photo.read_bytes(), added_by="test")
    assert set(added.hashes) == {"pdq", "md5", "sha256"}
    assert (added.summary.added, added.summary.duplicates) == (1, 0)
    content = sqlite_core.banks.get_content("b", added.content_id)
    assert {h.kind: h.value for h in content.item.hashes} == added.hashes
    assert (content.external_id, content.media_kind) == (None, "photo")
    again = sqlite_core.add_media("b", photo)
    assert (again.summary.added, again.summary.duplicates) == (0, 1)
    assert again.content_id == added.content_id
    with pytest.raises(NotFound):
        sqlite_core.add_media("missing", photo)


def test_add_media_decodes_only_for_pdq(sqlite_core: Lykta) -> None:
    sqlite_core.banks.create("videos")
    data = b"\x00\x00\x00\x18ftypmp42 not decoded"
    added = sqlite_core.add_media("videos", data, kinds=["md5"], external_id="v1")
    assert added.hashes == {"md5": hashlib.md5(data).hexdigest()}
    with pytest.raises(MediaError):
        sqlite_core.add_media("videos", data)


def test_add_scanned_adds_each_file_under_its_stem(sqlite_core: Lykta, folder: Path) -> None:
    sqlite_core.banks.create("b")
    summary = sqlite_core.add_scanned("b", sqlite_core.scan([folder], dihedral=False, trim=False))
    assert (summary.added, summary.duplicates) == (3, 0)  # one item per photo
    stems = {row.external_id for row in sqlite_core.banks.export("b")}
    assert stems == {"known", "other", "third"}


def test_lookup_media_by_some_kinds(sqlite_core: Lykta) -> None:
    sqlite_core.banks.create("b")
    data = make_photo(24)
    sqlite_core.add_media("b", data)
    found = sqlite_core.lookup_media(data, kinds=["pdq"])
    assert [m.kind for m in found.matches] == ["pdq"]
    assert [m.kind for m in sqlite_core.lookup_media(data, kinds=["sha256"]).matches] == ["sha256"]
    assert [m.kind for m in sqlite_core.lookup_media(data).matches] == ["md5"]
    # exact kinds alone need no decoder
    assert sqlite_core.lookup_media(b"plain bytes", kinds=["sha256"]).matches == []


def test_unknown_banks_are_an_error_unless_ignored(sqlite_core: Lykta) -> None:
    sqlite_core.banks.create("b")
    data = make_photo(25)
    md5 = hashlib.md5(data).hexdigest()
    sqlite_core.add_media("b", data)
    with pytest.raises(NotFound):
        sqlite_core.lookup_hash("md5", md5, banks=["nope"])
    with pytest.raises(NotFound):
        sqlite_core.lookup_media(data, banks=["nope"])
    ignored = sqlite_core.lookup_hash("md5", md5, banks=["nope"], ignore_unknown_banks=True)
    assert ignored.matches == []
    found = sqlite_core.lookup_media(data, banks=["nope", "b"], ignore_unknown_banks=True)
    assert {m.bank for m in found.matches} == {"b"}
    with pytest.raises(InvalidInput):  # a bad hash is refused whatever the banks
        sqlite_core.lookup_hash("md5", "xyz", banks=["nope"], ignore_unknown_banks=True)


def test_a_video_is_one_content_item_of_its_kept_frames(sqlite_core: Lykta, tmp_path: Path) -> None:
    sqlite_core.banks.create("v")
    clip = still_video(tmp_path / "clip-7.mp4", [1, 1, 2, 3], fps=10)
    added = sqlite_core.add_media("v", clip)
    assert added.video is not None and added.summary.added == 1
    [item] = sqlite_core.banks.export("v")
    assert (item.external_id, item.media_kind) == ("clip-7", "video")
    assert item.duration is not None and 3.9 <= item.duration <= 4.1
    frames = [h for h in item.hashes if h.kind == "pdq"]
    # Sampled every 0.2 s (20 frames), a still scene kept once: about one frame a scene.
    assert 3 <= len(frames) <= 6
    assert all(h.seconds is not None and h.quality is not None for h in frames)
    assert {h.kind for h in item.hashes} == {"pdq", "md5", "sha256"}
    assert added.hashes["md5"] == hashlib.md5(clip.read_bytes()).hexdigest()
    # The same file again, as bytes or an open file, is a duplicate of that item.
    assert sqlite_core.add_media("v", clip.read_bytes()).summary.duplicates == 1
    with clip.open("rb") as file:
        assert sqlite_core.add_media("v", file).content_id == added.content_id


def test_a_letterboxed_video_keeps_each_frame_with_and_without_its_bars(
    sqlite_core: Lykta, tmp_path: Path
) -> None:
    sqlite_core.banks.create("v")
    clip = still_video(tmp_path / "boxed.mp4", [4], fps=5, size=(320, 240), bars=40)
    sqlite_core.add_media("v", clip)
    [item] = sqlite_core.banks.export("v")
    frames = [h for h in item.hashes if h.kind == "pdq"]
    assert len(frames) == 2 and frames[0].seconds == frames[1].seconds == 0.0


def test_the_banks_quality_floor_drops_flat_frames(sqlite_core: Lykta, tmp_path: Path) -> None:
    sqlite_core.banks.create("v", pdq_min_quality=50)
    added = sqlite_core.add_media("v", still_video(tmp_path / "flat.mp4", [None], fps=5))
    [item] = sqlite_core.banks.export("v")
    assert added.video is not None and added.video.frames == ()
    assert {h.kind for h in item.hashes} == {"md5", "sha256"}


def test_a_scan_for_a_bank_hashes_photos_and_videos(sqlite_core: Lykta, tmp_path: Path) -> None:
    sqlite_core.banks.create("b")
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "photo.jpg").write_bytes(make_photo(30))
    still_video(folder / "clip.mp4", [1, 2], fps=5)
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(100))
    scanned = {f.path.name: f for f in sqlite_core.scan([folder], for_bank="b")}
    assert scanned["photo.jpg"].hashes is not None and scanned["photo.jpg"].video is None
    assert scanned["clip.mp4"].video is not None and scanned["clip.mp4"].hashes is None
    assert scanned["broken.mp4"].error is not None
    summary = sqlite_core.add_scanned("b", scanned.values())
    assert summary.added == 2
    kinds = {item.external_id: item.media_kind for item in sqlite_core.banks.export("b")}
    assert kinds == {"photo": "photo", "clip": "video"}


def test_local_features_match_edited_copies_in_banks_that_enable_them(core: Lykta) -> None:
    core.banks.create("robust", local_features=True)
    core.banks.create("plain")
    photos = [make_textured_photo(seed=seed) for seed in (40, 41, 42)]
    for number, photo in enumerate(photos):
        for bank in ("robust", "plain"):
            added = core.add_media(bank, encode(photo), external_id=f"p{number}")
            assert ("orb" in added.hashes) == (bank == "robust")
    assert core.banks.get("robust").local_features and not core.banks.get("plain").local_features
    edited = encode(rotated(cropped(photos[1], 0.12, 1), 5))
    [match] = core.lookup_photo(edited).result.matches
    assert (match.bank, match.external_id, match.kind) == ("robust", "p1", "orb")
    assert match.transform == "local-features" and match.distance >= 25
    assert match.query_hash == ""
    # A crop of 12% shows less than all of the banked photo, and most of it.
    assert match.covered is not None
    left, top, right, bottom = match.covered
    assert 0.6 <= (right - left) * (bottom - top) <= 0.95
    # Off per request, or for the bank: PDQ alone finds nothing.
    assert core.lookup_photo(edited, local_features=False).result.matches == []
    core.banks.update("robust", local_features=False)
    assert core.lookup_photo(edited).result.matches == []
    core.banks.update("robust", local_features=True)
    assert [m.bank for m in core.lookup_photo(edited, banks=["robust"]).result.matches] == [
        "robust"
    ]
    assert core.lookup_photo(edited, banks=["plain"]).result.matches == []


EASY_EDITS = {
    "jpeg q40": lambda image: Image.open(io.BytesIO(encode(image, quality=40))),
    "resize 50%": lambda image: image.resize((image.width // 2, image.height // 2)),
    "blur": lambda image: blurred(image, 2.0),
    "grey": greyed,
    "gamma 0.6": lambda image: gamma_adjusted(image, 0.6),
    "gamma 1.6": lambda image: gamma_adjusted(image, 1.6),
    "noise": lambda image: noisy(image, 8.0, seed=5),
}


@pytest.mark.parametrize("edit", EASY_EDITS)
def test_easy_edits_match_their_photo_in_a_bank_with_local_features(
    sqlite_core: Lykta, edit: str
) -> None:
    sqlite_core.banks.create("robust", local_features=True)
    photo = make_textured_photo(seed=45)
    sqlite_core.add_media("robust", encode(photo), external_id="source")
    sqlite_core.add_media("robust", encode(make_textured_photo(seed=46)), external_id="other")
    copy = encode(EASY_EDITS[edit](photo).convert("RGB"), quality=85)
    matches = sqlite_core.lookup_photo(copy).result.matches
    assert [m.external_id for m in matches] == ["source"], edit


def test_a_screenshot_matches_by_the_photo_inside_it(sqlite_core: Lykta) -> None:
    sqlite_core.banks.create("plain")
    sqlite_core.banks.create("robust", local_features=True)
    photo = make_textured_photo(seed=43)
    sqlite_core.add_media("plain", encode(photo), external_id="shown")
    sqlite_core.add_media("robust", encode(photo), external_id="shown")
    shot = encode(screenshot(photo, 3))
    found = {m.bank: m for m in sqlite_core.lookup_photo(shot).result.matches}
    assert (found["plain"].kind, found["plain"].transform) == ("pdq", "region")
    # The robust bank's PDQ matches too: the second path answers with the closest per item.
    assert found["robust"].kind == "pdq"
    assert sqlite_core.lookup_photo(shot, local_features=False).result.matches == []


def test_too_plain_photos_are_banked_without_local_features(sqlite_core: Lykta) -> None:
    sqlite_core.banks.create("robust", local_features=True)
    flat = encode(Image.new("RGB", (640, 480), (90, 120, 200)))
    assert "orb" not in sqlite_core.add_media("robust", flat).hashes


def test_add_scanned_banks_local_features(sqlite_core: Lykta, tmp_path: Path) -> None:
    sqlite_core.banks.create("robust", local_features=True)
    (tmp_path / "a.jpg").write_bytes(encode(make_textured_photo(seed=44)))
    scanned = sqlite_core.scan([tmp_path], dihedral=False, trim=False, for_bank="robust")
    assert sqlite_core.add_scanned("robust", scanned).added == 1
    [item] = sqlite_core.banks.export("robust")
    assert {h.kind for h in item.hashes} == {"pdq", "md5", "sha256", "orb"}
    query = tmp_path / "query"
    query.mkdir()
    (query / "q.jpg").write_bytes(encode(cropped(make_textured_photo(seed=44), 0.15, 2)))
    [file] = sqlite_core.scan([query], lookup=True)
    assert file.result is not None and [m.kind for m in file.result.matches] == ["orb"]
