"""Telling a video container from its first bytes."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from lykta.media.video import SNIFF_BYTES, decode_for_sampling, looks_like_video
from tests.conftest import make_photo
from tests.hashing import imagegen
from tests.videogen import still_video


def test_videos_are_told_from_photos_by_their_first_bytes(tmp_path: Path) -> None:
    mp4 = still_video(tmp_path / "clip.mp4", [1], fps=5)
    assert looks_like_video(mp4.read_bytes()[:SNIFF_BYTES])
    assert looks_like_video(b"\x1a\x45\xdf\xa3" + bytes(40))  # Matroska / WebM
    assert looks_like_video(b"RIFF\x00\x00\x00\x00AVI LIST")
    assert looks_like_video(b"\x47" + bytes(187) + b"\x47" + bytes(187) + b"\x47" + bytes(187))
    assert not looks_like_video(make_photo(1)[:SNIFF_BYTES])
    assert not looks_like_video(make_photo(1, fmt="PNG")[:SNIFF_BYTES])
    # HEIF and AVIF photos share MP4's box structure; their brand says they are stills.
    assert not looks_like_video(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00")
    assert not looks_like_video(b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00")
    assert not looks_like_video(b"")


def _clip(path: Path, seconds: int, gop: int, b_frames: int) -> Path:
    """A panning clip at 10 frames a second with a key frame every ``gop`` frames."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.options = {"g": str(gop), "keyint_min": str(gop), "bf": str(b_frames),
                          "sc_threshold": "0"}  # fmt: skip
        for number in range(seconds * 10):
            picture = np.roll(np.asarray(imagegen.make_photo(320, 240, seed=number // 20)),
                              number * 3, axis=1)  # fmt: skip
            container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, "rgb24")))
        container.mux(stream.encode())
    return path


def _sampled(path: Path, interval: float, *, skipping: bool) -> tuple[list[float], int]:
    """Sample times (a frame per interval) and how many frames were decoded."""
    ticks = [0.0]
    times: list[float] = []
    decoded = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = (
            decode_for_sampling(container, stream, lambda: ticks[0])
            if skipping
            else container.decode(stream)
        )
        for frame in frames:
            decoded += 1
            assert frame.time is not None
            if frame.time + 1e-6 >= ticks[0]:
                times.append(round(frame.time, 3))
                ticks[0] = (round(frame.time / interval) + 1) * interval
    return times, decoded


def test_frames_no_sample_needs_are_not_decoded(tmp_path: Path) -> None:
    for gop, b_frames, most in ((10, 0, 0.15), (20, 2, 0.6)):
        path = _clip(tmp_path / f"gop{gop}.mp4", 6, gop, b_frames)
        every, all_frames = _sampled(path, 1.0, skipping=False)
        skipped, decoded = _sampled(path, 1.0, skipping=True)
        assert skipped == every == [float(s) for s in range(6)]
        # A key frame a second: only key frames; every two seconds: about half.
        assert decoded <= most * all_frames, (gop, decoded, all_frames)
