"""Video key frames on the second path: a cropped, turned or overlaid re-encode of a banked
video, which moves every frame's PDQ far, is found by its key frames' local features in
banks that enable them; generated benign clips throughout."""

from __future__ import annotations

import io
import logging
from itertools import pairwise
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from lykta.app import BANK_KEY_FRAMES, Lykta
from lykta.hashing.local_features import MIN_KEYPOINTS
from lykta.hashing.video import KEY_FRAME_SECONDS, hash_video
from lykta.index.local_features import MIN_INLIERS
from lykta.outputs import LookupOut
from tests.hashing.imagegen import encode, make_textured_photo, screenshot
from tests.videogen import (
    Edit,
    cropped_and_stamped,
    cropped_and_turned,
    still_video,
    write_video,
)

SCENES = [81, 82, 83]  # the banked clip: three 3-second scenes of detailed pictures
SIZE = (320, 240)


def clip(
    path: Path,
    scenes: list[int],
    start: float = 0.0,
    end: float | None = None,
    edit: Edit | None = None,
) -> Path:
    return write_video(
        path, scenes, scene_seconds=3, size=SIZE, textured=True, start=start, end=end, edit=edit
    )


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    return {
        "original": clip(folder / "original.mp4", SCENES),
        "turned": clip(folder / "turned.mp4", SCENES, start=1, end=8, edit=cropped_and_turned),
        "stamped": clip(folder / "stamped.mp4", SCENES, edit=cropped_and_stamped),
        "unrelated": clip(folder / "unrelated.mp4", [91, 92, 93]),
    }


@pytest.fixture
def robust(core: Lykta, clips: dict[str, Path]) -> Lykta:
    """`robust` (local features) and `plain` banks, each holding the original clip."""
    core.banks.create("robust", local_features=True)
    core.banks.create("plain")
    for bank in ("robust", "plain"):
        core.add_media(bank, clips["original"], external_id="original")
    return core


def looked_up(
    core: Lykta, path: Path, *, local_features: bool = True, banks: list[str] | None = None
) -> LookupOut:
    hashes = core.hash_video(path, local_features=local_features, banks=banks)
    return LookupOut.of(core.lookup_video(hashes, banks=banks, local_features=local_features))


def write_video_of(path: Path, pictures: list[Image.Image], seconds: float = 2.0) -> Path:
    """A clip showing each picture still for ``seconds``."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = *pictures[0].size, "yuv420p"
        for picture in pictures:
            frame = av.VideoFrame.from_ndarray(np.asarray(picture), format="rgb24")
            for _ in range(round(10 * seconds)):
                container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


@pytest.mark.parametrize("edit", ["turned", "stamped"])
def test_an_edited_re_encode_matches_by_its_key_frames_where_pdq_misses(
    robust: Lykta, clips: dict[str, Path], edit: str
) -> None:
    assert looked_up(robust, clips[edit], local_features=False).matches == []
    [match] = looked_up(robust, clips[edit]).matches
    assert (match.bank, match.external_id) == ("robust", "original")
    assert (match.kind, match.transform, match.query_hash) == ("orb", "local-features", "")
    assert match.distance >= MIN_INLIERS
    assert match.query_share is not None and match.query_share >= 0.5
    # The part of the best banked key frame that the edited frame shows: most, not all.
    assert match.covered is not None
    left, top, right, bottom = match.covered
    assert 0.5 <= (right - left) * (bottom - top) <= 0.97
    assert match.segments
    duration = 7 if edit == "turned" else 9
    for segment in match.segments:
        # Times of the query's key frames, and of the banked key frames they matched.
        assert 0 <= segment.query_start <= segment.query_end <= duration
        assert segment.bank_start is not None and segment.bank_end is not None
        assert 0 <= segment.bank_start <= segment.bank_end <= 9
    if edit == "turned":  # seconds 1 to 8 of the banked clip
        first = match.segments[0]
        assert first.bank_start is not None and abs(first.bank_start - first.query_start - 1) <= 2


def test_an_unrelated_video_matches_nothing(robust: Lykta, clips: dict[str, Path]) -> None:
    assert looked_up(robust, clips["unrelated"]).matches == []


def test_only_banks_that_enable_local_features_and_only_where_pdq_did_not_match(
    robust: Lykta, clips: dict[str, Path]
) -> None:
    assert looked_up(robust, clips["turned"], banks=["plain"]).matches == []
    robust.banks.update("robust", local_features=False)
    assert looked_up(robust, clips["turned"]).matches == []
    robust.banks.update("robust", local_features=True)
    # The very file: matched by its digests in both banks, and by nothing else.
    found = looked_up(robust, clips["original"]).matches
    assert sorted((m.bank, m.kind) for m in found) == [("plain", "md5"), ("robust", "md5")]


def test_a_banked_photo_is_found_in_an_edited_video_key_frame(
    sqlite_core: Lykta, tmp_path: Path
) -> None:
    sqlite_core.banks.create("robust", local_features=True)
    photo = make_textured_photo(*SIZE, seed=84)
    sqlite_core.add_media("robust", encode(photo), external_id="photo")
    shown = [Image.new("RGB", SIZE, (40, 40, 40)), cropped_and_turned(photo)]
    path = write_video_of(tmp_path / "shown.mp4", shown)
    [match] = looked_up(sqlite_core, path).matches
    assert (match.external_id, match.kind) == ("photo", "orb")
    [segment] = match.segments or []
    assert segment.bank_start is None and segment.query_start >= 2  # the photo's seconds


def test_a_banked_photo_on_a_phone_screen_in_a_video_matches_by_its_region(
    sqlite_core: Lykta, tmp_path: Path
) -> None:
    photo = make_textured_photo(*SIZE, seed=85)
    for bank, local_features in (("robust", True), ("plain", False)):
        sqlite_core.banks.create(bank, local_features=local_features)
        sqlite_core.add_media(bank, encode(photo), external_id="photo")
    phone = screenshot(photo, seed=3).resize((360, 780))
    path = write_video_of(
        tmp_path / "phone.mp4", [Image.new("RGB", phone.size, (40, 40, 40)), phone]
    )
    assert looked_up(sqlite_core, path, local_features=False).matches == []
    found = {match.bank: match for match in looked_up(sqlite_core, path).matches}
    assert set(found) == {"robust", "plain"}
    # The region's PDQ in every bank; in the robust bank, PDQ or the region's keypoints.
    assert (found["plain"].kind, found["plain"].transform) == ("pdq", "region")
    assert found["robust"].transform.startswith("region")
    [segment] = found["plain"].segments or []
    assert segment.bank_start is None and segment.query_start >= 2  # the phone's seconds
    # Only where a bank enables local features are key frames (and their regions) taken.
    assert looked_up(sqlite_core, path, banks=["plain"]).matches == []


def test_banking_stores_the_key_frames_local_features_with_their_times(
    robust: Lykta, clips: dict[str, Path]
) -> None:
    items = {item.external_id: item for item in robust.banks.export("robust")}
    orb = [h for h in items["original"].hashes if h.kind == "orb"]
    times = sorted({h.seconds for h in orb if h.seconds is not None})
    assert len(times) * 10 == len(orb) and 3 <= len(times) <= BANK_KEY_FRAMES
    assert all(b - a >= KEY_FRAME_SECONDS - 0.2 for a, b in pairwise(times))
    [plain] = robust.banks.export("plain")
    assert not any(h.kind == "orb" for h in plain.hashes)


def test_a_video_too_plain_for_keypoints_is_banked_without_them(
    sqlite_core: Lykta, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sqlite_core.banks.create("robust", local_features=True)
    grey = still_video(tmp_path / "grey.mp4", [None, None], size=SIZE)
    with caplog.at_level(logging.WARNING):
        added = sqlite_core.add_media("robust", grey)
    assert "orb" not in added.hashes
    assert f"no frame with {MIN_KEYPOINTS} keypoints" in caplog.text


def test_key_frames_are_bounded_and_spread_over_the_video(clips: dict[str, Path]) -> None:
    source = clips["original"]
    assert hash_video(source, interval=0.5).key_frames == ()
    every = hash_video(source, interval=0.5, key_frames=32).key_frames
    times = [key.seconds for key in every]
    assert len(times) >= 4 and times == sorted(times)
    assert all(b - a >= KEY_FRAME_SECONDS - 0.01 for a, b in pairwise(times))
    few = hash_video(io.BytesIO(source.read_bytes()), interval=0.5, key_frames=2).key_frames
    assert len(few) == 2 and few[-1].seconds - few[0].seconds >= 4
    assert all(len(key.features) >= MIN_KEYPOINTS for key in few)


def test_a_folder_scanned_for_a_bank_brings_its_videos_key_frames(
    sqlite_core: Lykta, clips: dict[str, Path], tmp_path: Path
) -> None:
    sqlite_core.banks.create("robust", local_features=True)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "clip.mp4").write_bytes(clips["original"].read_bytes())
    scanned = sqlite_core.scan([folder], for_bank="robust")
    assert sqlite_core.add_scanned("robust", scanned).added == 1
    [item] = sqlite_core.banks.export("robust")
    assert {h.kind for h in item.hashes} == {"pdq", "md5", "sha256", "orb"}
    [file] = sqlite_core.scan([clips["turned"]], lookup=True)
    assert file.result is not None and [m.kind for m in file.result.matches] == ["orb"]
    [file] = sqlite_core.scan([clips["turned"]], lookup=True, local_features=False)
    assert file.result is not None and file.result.matches == []
