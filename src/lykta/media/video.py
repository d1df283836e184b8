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
