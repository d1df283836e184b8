"""Video look-ups: bank videos matched by their frames, with the shares of query and bank
that matched and the stretches that did, on generated benign clips."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from lykta.app import Lykta
from lykta.banks.items import ContentItem, ItemHash
from lykta.hashing.video import VideoHashes, hash_video
from lykta.matching.results import Match
from lykta.outputs import LookupOut
from tests.videogen import letterboxed, mirrored, scene_frames, still_video, write_video

SCENES = [11, 12, 13, 14]  # a 20-second banked clip: four 5-second scenes


def banked(hashes: VideoHashes, external_id: str) -> ContentItem:
    frames = tuple(
        ItemHash("pdq", variant.pdq, variant.quality, frame.seconds)
        for frame in hashes.frames
        for variant in frame.variants
    )
    digests = (ItemHash("md5", hashes.md5), ItemHash("sha256", hashes.sha256))
    return ContentItem(frames + digests, external_id, (), "video", hashes.duration)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    return {
        "original": write_video(folder / "original.mp4", SCENES),
        "excerpt": write_video(folder / "excerpt.mp4", SCENES, start=6.3, end=16.3),
        "mirrored": write_video(folder / "mirrored.mp4", SCENES, start=2, end=12, edit=mirrored),
        "letterboxed": write_video(folder / "boxed.mp4", SCENES, edit=letterboxed),
        "longer": write_video(folder / "longer.mp4", [21, 22, 23, *SCENES, 24, 25, 26, 27]),
        "unrelated": write_video(folder / "unrelated.mp4", [31, 32, 33, 34]),
    }


@pytest.fixture
def video_bank(core: Lykta, clips: dict[str, Path]) -> Lykta:
    core.banks.create("videos")
    original = hash_video(clips["original"], interval=None)
    core.banks.add_content("videos", [banked(original, "original")])
    return core


def only_match(core: Lykta, path: Path) -> Match:
    result = core.lookup_video(core.hash_video(path))
    assert [m.external_id for m in result.matches] == ["original"], result
    match = result.matches[0]
    assert match.video is not None
    return match


def test_an_excerpt_is_found_and_located_in_the_bank_video(
    video_bank: Lykta, clips: dict[str, Path]
) -> None:
    match = only_match(video_bank, clips["excerpt"])
    assert match.video is not None and match.kind == "pdq"
    assert match.video.query_share >= 0.9
    assert 0.4 <= match.video.bank_share <= 0.65  # 10 of 20 seconds
    [segment] = match.video.segments
    assert segment.query_start == 0.0 and segment.query_end >= 8.9
    assert segment.bank_start is not None and segment.bank_end is not None
    assert abs(segment.bank_start - 6.3) <= 0.5
    assert (
        abs(segment.bank_end - segment.bank_start - (segment.query_end - segment.query_start)) <= 1
    )


def test_a_long_upload_containing_the_clip_matches_by_the_bank_share(
    video_bank: Lykta, clips: dict[str, Path]
) -> None:
    match = only_match(video_bank, clips["longer"])
    assert match.video is not None
    assert match.video.query_share < 0.5 <= match.video.bank_share
    assert any(abs(s.query_start - 15) <= 1 for s in match.video.segments)


def test_mirrored_and_letterboxed_copies_match(video_bank: Lykta, clips: dict[str, Path]) -> None:
    assert only_match(video_bank, clips["mirrored"]).transform.endswith("mirror")
    assert only_match(video_bank, clips["letterboxed"]).transform.startswith("trimmed")


def test_the_very_file_matches_by_its_digest_too(video_bank: Lykta, clips: dict[str, Path]) -> None:
    match = only_match(video_bank, clips["original"])
    assert match.kind in {"md5", "sha256"} and match.distance == 0
    assert match.video is not None and match.video.query_share == match.video.bank_share == 1.0
    assert match.video.segments  # located by its frames too


def test_an_unrelated_clip_does_not_match(video_bank: Lykta, clips: dict[str, Path]) -> None:
    result = video_bank.lookup_video(video_bank.hash_video(clips["unrelated"]))
    assert result.matches == [] and result.suppressed_by == []


def test_the_share_rule_is_the_banks(video_bank: Lykta, tmp_path: Path) -> None:
    # Half of this clip is half of the banked one: both shares are about 0.5.
    half = video_bank.hash_video(write_video(tmp_path / "half.mp4", [31, 13, 14, 32]))
    [match] = video_bank.lookup_video(half).matches
    assert match.video is not None
    assert 0.4 <= match.video.query_share <= 0.6 and 0.4 <= match.video.bank_share <= 0.6
    video_bank.banks.update("videos", pdq_query_share=0.7, pdq_bank_share=0.7)
    assert video_bank.lookup_video(half).matches == []
    assert video_bank.banks.get("videos").thresholds["pdq"].query_share == 0.7
    with pytest.raises(Exception, match="pdq_query_share"):
        video_bank.banks.update("videos", pdq_query_share=0)


def test_a_frame_matches_a_banked_photo(core: Lykta, tmp_path: Path) -> None:
    still = scene_frames(41, 5.0, 10, (320, 240))[20]
    core.banks.create("photos")
    core.add_media("photos", _jpeg(still, tmp_path / "still.jpg"))
    path = write_video(tmp_path / "with-still.mp4", [51, 41, 52])
    result = core.lookup_video(core.hash_video(path))
    [match] = result.matches
    assert match.external_id == "still" and match.video is not None
    assert match.video.bank_share == 1.0
    assert all(s.bank_start is None for s in match.video.segments)
    assert any(5 <= s.query_start <= 10 for s in match.video.segments)


def test_a_negative_bank_video_suppresses(video_bank: Lykta, clips: dict[str, Path]) -> None:
    video_bank.banks.create("cleared", negative=True)
    excerpt = hash_video(clips["excerpt"], interval=None)
    video_bank.banks.add_content("cleared", [banked(excerpt, "cleared-excerpt")])
    result = video_bank.lookup_video(video_bank.hash_video(clips["excerpt"]))
    assert result.matches == []
    assert [m.bank for m in result.suppressed_by] == ["cleared"]


def _jpeg(image: Image.Image, path: Path) -> Path:
    image.save(path, quality=95)
    return path


def test_a_video_match_reads_the_same_over_every_door(
    video_bank: Lykta, clips: dict[str, Path]
) -> None:
    result = video_bank.lookup_video(video_bank.hash_video(clips["excerpt"]))
    [match] = LookupOut.of(result).model_dump(mode="json")["matches"]
    assert match["id"] == "original" and match["transform"] == "original"
    assert match["query_share"] >= 0.9 and 0.4 <= match["bank_share"] <= 0.65
    assert set(match["segments"][0]) == {"query_start", "query_end", "bank_start", "bank_end"}


def test_a_match_of_the_bank_videos_first_frame_alone_is_a_share_of_its_length(
    sqlite_core: Lykta, tmp_path: Path
) -> None:
    """A still opening scene is banked as one frame, at 0 s: the bank share of a copy of
    that scene alone is measured against the bank video's whole length."""
    sqlite_core.banks.create("videos")
    banked = still_video(tmp_path / "banked.mp4", [45, 46, 47, 48], seconds_per_scene=5)
    sqlite_core.add_media("videos", banked, external_id="banked")
    opening = still_video(tmp_path / "opening.mp4", [45], seconds_per_scene=2)
    [match] = sqlite_core.lookup_video(sqlite_core.hash_video(opening)).matches
    assert match.video is not None and match.video.query_share == 1.0
    assert 0.03 <= match.video.bank_share <= 0.2  # 1-2 of 20 seconds
