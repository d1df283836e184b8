"""PDQ of video frames: the frame as it is and, when it has bars, without them.

Letterboxed and pillarboxed re-uploads are the commonest edit of a traded video; bars move
PDQ far from the original's hash, so a frame with bars is hashed twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import av
import numpy as np
from PIL import Image

from lykta.hashing.borders import find_content_box
from lykta.hashing.pdq import pdq_from_image
from lykta.media.video import frame_luma


@dataclass(frozen=True, slots=True)
class FrameVariant:
    """PDQ of one frame after ``transform`` ("original", or "trimmed" without its bars)."""

    transform: str
    pdq: str
    quality: int


def hash_luma(luma: np.ndarray, *, trim: bool = True) -> tuple[FrameVariant, ...]:
    """PDQ of a frame's luma plane; with ``trim`` and bars found, of the part inside too."""
    image = Image.fromarray(luma, mode="L")
    pdq, quality = pdq_from_image(image)
    variants = [FrameVariant("original", pdq, quality)]
    if trim and (box := find_content_box(image)) is not None:
        trimmed, trimmed_quality = pdq_from_image(image.crop(box))
        if trimmed != pdq:
            variants.append(FrameVariant("trimmed", trimmed, trimmed_quality))
    return tuple(variants)


def hash_frame(frame: av.VideoFrame, *, trim: bool = True) -> tuple[FrameVariant, ...]:
    """``hash_luma`` of a decoded frame."""
    return hash_luma(frame_luma(frame), trim=trim)
