"""What the review console shows of media: a photo re-encoded as a plain JPEG (no metadata,
no polyglot bytes, at most ``max_side`` pixels a side) and a video's storyboard, a few
frames spread evenly over it, each the first frame shown at or after its moment (PyAV
seeks to the key frame before it and decodes on from there)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PIL import Image

from lykta.errors import MediaError
from lykta.media.images import decode_image

if TYPE_CHECKING:
    import av.container

PREVIEW_SIDE = 1280
FRAME_SIDE = 480
JPEG_QUALITY = 85


@dataclass(frozen=True)
class StoryboardFrame:
    seconds: float
    jpeg: bytes


def _jpeg(image: Image.Image, max_side: int) -> bytes:
    image = image.convert("RGB")
    image.thumbnail((max_side, max_side))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def photo_preview(data: bytes, *, max_pixels: int, max_side: int = PREVIEW_SIDE) -> bytes:
    """The photo as a fresh JPEG, upright, metadata dropped."""
    return _jpeg(decode_image(data, max_pixels=max_pixels, min_side=max_side), max_side)


def storyboard(
    data: bytes, frames: int, *, max_seconds: float, max_side: int = FRAME_SIDE
) -> list[StoryboardFrame]:
    """Up to ``frames`` frames spread evenly over the video (fewer when several moments
    fall back on one frame)."""
    import av  # here, not at the top: commands that open the core never decode video

    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            return _storyboard(container, frames, max_seconds, max_side)
    except (av.error.FFmpegError, ValueError, IndexError) as error:
        raise MediaError(f"the video cannot be decoded for a storyboard: {error}") from None


def _storyboard(
    container: av.container.InputContainer, frames: int, max_seconds: float, max_side: int
) -> list[StoryboardFrame]:
    import av

    stream = container.streams.video[0]
    base = stream.time_base
    if stream.duration is not None and base is not None:
        duration = float(stream.duration * base)
    else:
        duration = (container.duration or 0) / av.time_base
    duration = min(max(duration, 0.0), max_seconds)
    moments = [duration * (index + 0.5) / frames for index in range(frames)]
    board: list[StoryboardFrame] = []
    seen: set[float] = set()
    for moment in moments:
        if base is not None:
            container.seek(int(moment / base), stream=stream, backward=True, any_frame=False)
        for frame in container.decode(stream):
            shown = float(frame.time) if frame.time is not None else moment
            if shown + 1e-6 < moment:
                continue
            if shown not in seen:
                seen.add(shown)
                board.append(
                    StoryboardFrame(
                        round(shown, 2),
                        _jpeg(Image.fromarray(frame.to_ndarray(format="rgb24")), max_side),
                    )
                )
            break
    return board
