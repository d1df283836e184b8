"""Decoded video frames as the luma planes hashers need (PyAV, which bundles FFmpeg).

Scaling and the conversion to grey happen in FFmpeg's swscale, in C, on the decoder's own
planes: a 1080p frame becomes a plane of at most ``LUMA_MAX_SIDE`` pixels a side without a
full-size RGB copy in Python.
"""

from __future__ import annotations

import av
import numpy as np

# PDQ reduces every frame to 64x64 through box filters; past this size more pixels change
# the hash by a bit or two at most and cost time on every sampled frame.
LUMA_MAX_SIDE = 512


def frame_luma(frame: av.VideoFrame, max_side: int = LUMA_MAX_SIDE) -> np.ndarray:
    """The frame's luma as a 2-D ``uint8`` array, scaled down (area filter) to fit
    ``max_side``; frames already that small keep their size."""
    width, height = frame.width, frame.height
    scale = min(1.0, max_side / max(width, height))
    target_w, target_h = max(1, round(width * scale)), max(1, round(height * scale))
    grey = frame.reformat(width=target_w, height=target_h, format="gray", interpolation="AREA")
    return np.ascontiguousarray(grey.to_ndarray())


# Enough of a file's start to tell its container.
SNIFF_BYTES = 4096
# ISO-BMFF brands of still images (HEIF, AVIF): an `ftyp` box alone does not make a video.
_IMAGE_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"})
VIDEO_SUFFIXES = frozenset({
    ".mp4", ".m4v", ".mov", ".3gp", ".3g2", ".mkv", ".webm", ".avi", ".flv", ".wmv", ".asf",
    ".ts", ".m2ts", ".mts", ".mpg", ".mpeg", ".ogv",
})  # fmt: skip


def looks_like_video(head: bytes) -> bool:
    """Whether a file starting with ``head`` is a video container (MP4/MOV, Matroska/WebM,
    AVI, FLV, ASF, MPEG-TS or MPEG-PS), told from its first bytes without decoding."""
    if head[4:8] == b"ftyp":
        return head[8:12] not in _IMAGE_BRANDS
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: Matroska, WebM
        return True
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return True
    if head.startswith((b"FLV\x01", b"\x00\x00\x01\xba")):  # FLV, MPEG program stream
        return True
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):  # ASF (WMV)
        return True
    # MPEG transport stream: a sync byte every 188 bytes.
    return len(head) >= 188 * 3 and all(head[i] == 0x47 for i in range(0, 188 * 3, 188))
