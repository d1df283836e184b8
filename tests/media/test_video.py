"""Telling a video container from its first bytes."""

from __future__ import annotations

from pathlib import Path

from lykta.media.video import SNIFF_BYTES, looks_like_video
from tests.conftest import make_photo
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
