"""PDQ of decoded video frames: the frame as given, and without letterbox bars."""

from __future__ import annotations

import hashlib
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from lykta.errors import MediaError
from lykta.hashing.pdq import pdq_from_image
from lykta.hashing.video import VideoLimits, hash_frame, hash_luma, hash_video
from lykta.media.video import frame_luma
from tests.hashing.imagegen import make_photo
from tests.testdata import THREATEXCHANGE, needs_testdata
from tests.videogen import scene_frames, still_video


def _distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def test_a_frame_without_bars_has_one_hash_equal_to_the_photos() -> None:
    photo = make_photo(640, 360, seed=3)
    frame = av.VideoFrame.from_ndarray(np.asarray(photo), format="rgb24")
    variants = hash_frame(frame)
    assert [v.transform for v in variants] == ["original"]
    assert _distance(variants[0].pdq, pdq_from_image(photo)[0]) <= 10


def test_a_letterboxed_frame_also_hashes_what_lies_between_its_bars() -> None:
    photo = make_photo(640, 270, seed=4)
    boxed = Image.new("RGB", (640, 360))
    boxed.paste(photo, (0, 45))
    luma = np.asarray(boxed.convert("L"))
    variants = {v.transform: v for v in hash_luma(luma)}
    content = pdq_from_image(photo.convert("L"))[0]
    assert set(variants) == {"original", "trimmed"}
    assert _distance(variants["trimmed"].pdq, content) <= 8
    assert _distance(variants["original"].pdq, content) > 31
    assert [v.transform for v in hash_luma(luma, trim=False)] == ["original"]


def test_a_video_file_is_sampled_by_time_and_its_digests_cover_every_byte(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for number in range(35):  # 3.5 s at 10 frames a second
            photo = make_photo(320, 240, seed=number // 10)
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.asarray(photo), "rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    every_second = hash_video(path)
    assert [f.seconds for f in every_second.frames] == [0.0, 1.0, 2.0, 3.0]
    assert every_second.md5 == hashlib.md5(path.read_bytes()).hexdigest()
    assert every_second.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert every_second.duration is not None and 3.4 <= every_second.duration <= 3.6
    with path.open("rb") as file:
        assert len(hash_video(file, interval=None).frames) == 35


def test_dedupe_keeps_one_frame_of_a_still_scene(tmp_path: Path) -> None:
    path = still_video(tmp_path / "three.mp4", [1, 1, 2, 3], fps=10)
    every = hash_video(path, interval=None)
    assert len(every.frames) == 40
    kept = hash_video(path, interval=None, dedupe=4)
    # One frame per scene (the first two seconds are one scene); a few encoder wobbles
    # right after a cut may survive, but never most frames.
    assert 3 <= len(kept.frames) <= 6
    assert kept.frames[0].seconds == 0.0
    assert any(1.9 <= f.seconds <= 2.1 for f in kept.frames)
    assert any(2.9 <= f.seconds <= 3.1 for f in kept.frames)
    # The bank interval samples first, then dedupes.
    assert 3 <= len(hash_video(path, interval=0.2, dedupe=4).frames) <= 6


def test_frames_below_the_quality_floor_are_dropped(tmp_path: Path) -> None:
    path = still_video(tmp_path / "grey.mp4", [None, 5], fps=5)
    hashed = hash_video(path, interval=None, min_quality=50)
    assert hashed.frames and all(f.quality >= 50 for f in hashed.frames)
    assert min(f.seconds for f in hashed.frames) >= 1.0
    flat = still_video(tmp_path / "flat.mp4", [None], fps=5)
    assert hash_video(flat, min_quality=50).frames == ()


def test_hostile_videos_are_refused_with_a_reason(tmp_path: Path) -> None:
    path = still_video(tmp_path / "clip.mp4", [1, 2], fps=10)
    with pytest.raises(MediaError, match="more than 5 frames"):
        hash_video(path, limits=VideoLimits(max_frames=5))
    with pytest.raises(MediaError, match="LYKTA_VIDEO_MAX_SECONDS"):
        hash_video(path, limits=VideoLimits(max_seconds=1.0))
    with pytest.raises(MediaError, match="LYKTA_MAX_PIXELS"):
        hash_video(path, limits=VideoLimits(max_pixels=320 * 239))
    not_video = tmp_path / "notes.mp4"
    not_video.write_bytes(b"not a video at all" * 100)
    with pytest.raises(MediaError):
        hash_video(not_video)


def test_sampling_takes_one_frame_per_interval(tmp_path: Path) -> None:
    path = still_video(tmp_path / "ten.mp4", [1, 2], fps=30)  # 2 s at 30 frames a second
    seconds = [f.seconds for f in hash_video(path, interval=0.2).frames]
    # Floating point must not sample a tick twice (0.4 // 0.2 == 1.0).
    assert len(seconds) == 10 and seconds[:3] == [0.0, 0.2, 0.4]


def test_luma_is_the_luma_plane_without_its_row_padding() -> None:
    photo = make_photo(322, 242, seed=6)  # odd sizes: rows padded to the line size
    frame = av.VideoFrame.from_ndarray(np.asarray(photo), format="rgb24").reformat(format="yuv420p")
    assert frame.planes[0].line_size > frame.width
    direct = frame_luma(frame)
    converted = frame_luma(frame.reformat(format="rgb24"))  # through swscale's grey
    assert direct.shape == converted.shape == (242, 322)
    # The plane keeps video's limited range (16-235): the same picture, linearly rescaled.
    assert np.corrcoef(direct.ravel(), converted.ravel())[0, 1] > 0.999
    assert _distance(hash_luma(direct)[0].pdq, hash_luma(converted)[0].pdq) <= 4


def _encode(path: Path, codec: str, *, seconds: int, fps: int, gop: int) -> Path:
    """A moving clip of small frames, a key frame every ``gop`` frames."""
    frames = [
        frame for seed in range(seconds // 4) for frame in scene_frames(seed, 4.0, fps, (160, 120))
    ]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        stream.gop_size = gop
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.asarray(frame), "rgb24")))
        container.mux(stream.encode())
    return path


@pytest.mark.parametrize(
    ("name", "codec", "gop"),
    [
        ("h264.mp4", "libx264", 45),  # B-frames, skipped between samples
        ("h264-short-gop.mkv", "libx264", 7),
        ("vp9.webm", "libvpx-vp9", 50),
    ],
)
def test_decoders_side_by_side_sample_the_frames_one_decoder_samples(
    tmp_path: Path, name: str, codec: str, gop: int
) -> None:
    path = _encode(tmp_path / name, codec, seconds=32, fps=15, gop=gop)
    for interval in (1.0, 0.2, None):
        alone = hash_video(path, interval=interval, decoders=1)
        for decoders in (2, 3):  # stretches of 16 s and of 11 s, none starting on a key frame
            together = hash_video(path, interval=interval, decoders=decoders)
            assert together == alone, (interval, decoders)
    assert len(alone.frames) == 32 * 15  # every frame, once


@needs_testdata
def test_decoders_side_by_side_on_a_shared_sample_video() -> None:
    path = THREATEXCHANGE / "tmk" / "sample-videos" / "chair-22-sd-sepia-bar.mp4"
    with path.open("rb") as file:  # a file object: every decoder reads it through one handle
        together = hash_video(file, decoders=2)
    alone = hash_video(path, decoders=1)
    assert together == alone and len(alone.frames) == 23
