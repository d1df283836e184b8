"""Decoded video frames as the luma planes hashers need (PyAV, which bundles FFmpeg).

A frame of at most ``LUMA_MAX_SIDE`` pixels a side in a YUV format is its own luma plane,
copied as it is; others are scaled and converted to grey in FFmpeg's swscale, in C, on the
decoder's own planes, without a full-size RGB copy in Python.

PyAV is imported by what decodes, not here: telling a video file from its first bytes
(``looks_like_video``) is needed by commands that never decode one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import av
    import av.container

# Frames up to 1080p are hashed at their own size, as vPDQ's reference hashes them: PDQ's box
# filters depend on the image size, and a frame scaled to 512 pixels a side first comes out
# 6 to 25 bits (median) from the reference's hash of it, against 0 to 1 unscaled
# (tests/hashing/test_video_reference.py). Larger frames (4K) are halved: hashing 8 MP costs
# more than decoding it.
LUMA_MAX_SIDE = 1920


# Pixel formats whose first plane is 8-bit luma: a frame in one of these that needs no
# scaling is its first plane, copied without swscale (about 15 times faster).
_LUMA_FIRST = frozenset({
    "yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv440p",
    "yuvj440p", "yuv411p", "yuv410p", "nv12", "nv21", "nv16", "gray",
})  # fmt: skip


_FULL_RANGE = np.clip((np.arange(256) - 16) * 255 / 219 + 0.5, 0, 255).astype(np.uint8)
_FULL_RANGE_FORMATS = frozenset({"yuvj420p", "yuvj422p", "yuvj444p", "yuvj440p", "gray"})


def _limited_range(frame: av.VideoFrame) -> bool:
    """Whether the frame's luma spans 16-235 (video's usual range; unspecified means so)."""
    return frame.format.name not in _FULL_RANGE_FORMATS and frame.color_range != 2  # 2: JPEG


def frame_luma(frame: av.VideoFrame, max_side: int = LUMA_MAX_SIDE) -> np.ndarray:
    """The frame's luma as a 2-D ``uint8`` array, scaled down (area filter) to fit
    ``max_side``; frames already that small keep their size."""
    width, height = frame.width, frame.height
    scale = min(1.0, max_side / max(width, height))
    if scale == 1.0 and frame.format.name in _LUMA_FIRST:
        plane = frame.planes[0]
        # Rows are padded to the plane's line size; the padding is not picture.
        rows = np.frombuffer(memoryview(plane), np.uint8).reshape(plane.height, plane.line_size)
        luma = rows[:height, :width]
        if _limited_range(frame):
            # Video's 16-235 stretched to 0-255, as swscale's conversion does: PDQ's
            # quality measures gradients, and the narrow range would lower it by ~14%.
            full: np.ndarray = _FULL_RANGE[luma]
            return full
        return np.ascontiguousarray(luma)
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


def decode_for_sampling(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    due: Callable[[], float],
    *,
    skip_unreferenced: bool = False,
    on_packet: Callable[[float | None], None] | None = None,
    on_undecodable: Callable[[], None] | None = None,
) -> Iterator[av.VideoFrame]:
    """The stream's frames, leaving undecoded those no sample can need.

    ``due()`` is the time (seconds) of the next frame the caller will sample; it is asked
    as packets arrive. Packets before it are held back, not decoded: if a key frame comes
    first, nothing held back is needed to decode from it on, and it is dropped unseen. At a
    frame a second and a key frame every two seconds that halves the decoding, and with a
    key frame every second only key frames are decoded, yet the same frames are sampled.
    Frames of a dropped stretch that still come out (an open GOP's leading frames, whose
    references were dropped) are left out. With ``skip_unreferenced`` the decoder also skips
    frames nothing refers to (B-frames): a sample may then fall a frame or two later.
    ``on_packet(seconds)`` hears of every packet, decoded or not (for limits on what a file
    holds); with ``on_undecodable`` a packet the decoder refuses is reported there and
    skipped (a live stream's damaged packet), else its error is raised.
    """
    import av

    if skip_unreferenced:
        stream.codec_context.skip_frame = "NONREF"
    base = stream.time_base
    held: list[av.Packet] = []  # type: ignore[type-arg]
    resume_at: float | None = None  # after a drop: frames before this time are damaged
    for packet in container.demux(stream):
        if packet.size == 0:
            continue  # the demuxer's end-of-stream marker; flushed below
        moment = packet.pts if packet.pts is not None else packet.dts
        seconds = float(moment * base) if moment is not None and base is not None else None
        if on_packet is not None:
            on_packet(seconds)
        if packet.is_keyframe:
            if held:
                held.clear()
                resume_at = seconds
            ready = [packet]
        elif seconds is not None and seconds + 1e-6 < due():
            held.append(packet)
            continue
        else:
            ready = [*held, packet]
            held.clear()
        for waiting in ready:
            try:
                decoded = waiting.decode()
            except av.error.InvalidDataError:
                if on_undecodable is None:
                    raise
                on_undecodable()
                continue
            for frame in decoded:
                if resume_at is not None and frame.time is not None and frame.time < resume_at:
                    continue
                yield frame
    for frame in stream.decode(None):
        if frame.time_base is None:  # frames flushed at the end come without one
            frame.time_base = base
        yield frame
