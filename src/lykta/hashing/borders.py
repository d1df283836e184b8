"""Find and cut uniform borders (letterboxing, pillarboxing, padding) off a photo.

Re-posted photos often gain bars or padding, which move PDQ far from the original's hash;
hashing the trimmed image as well lets lookups still find it.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

# A pixel belongs to a border when no channel differs from the border colour by more
# than this: wide enough for JPEG noise and gradients in a scanned bar, narrow enough
# that real content (even dark or bright content) stops the scan.
COLOUR_TOLERANCE = 24
# Share of a line's pixels that must match the border colour: lets a few noisy pixels
# through without eating into content that merely starts with a uniform stripe.
LINE_SHARE = 0.98
# Narrower borders are left alone: they barely move the hash and may be content.
MIN_BORDER = 0.02
# Never keep less than this share of a side: a near-uniform photo is not all border.
MIN_CONTENT = 0.25
_BLOCK = 32


def find_content_box(image: Image.Image) -> tuple[int, int, int, int] | None:
    """The (left, top, right, bottom) box inside uniform borders, or None when none found."""
    return content_box_of(np.asarray(image.convert("RGB") if image.mode != "RGB" else image))


def content_box_of(pixels: np.ndarray) -> tuple[int, int, int, int] | None:
    """``find_content_box`` of pixels: ``(h, w, channels)``, or ``(h, w)`` for luma (a video
    frame's, whose bars are told in luma without a colour copy of the frame)."""
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]  # a view: one channel
    height, width = pixels.shape[:2]
    if height < 8 or width < 8:
        return None
    top = _border(pixels)
    bottom = _border(pixels[::-1])
    left = _border(pixels.transpose(1, 0, 2))
    right = _border(pixels.transpose(1, 0, 2)[::-1])
    top, bottom = _keep_content(top, bottom, height)
    left, right = _keep_content(left, right, width)
    if not (top or bottom or left or right):
        return None
    return left, top, width - right, height - bottom


def trim_borders(image: Image.Image) -> Image.Image | None:
    """The image without its uniform borders, or None when it has none worth trimming."""
    box = find_content_box(image)
    return None if box is None else image.crop(box)


def _border(lines: np.ndarray) -> int:
    """How many lines, from the first inward, are (nearly) all one colour."""
    # Sampling ~256 pixels per line keeps the scan cheap at full precision across lines;
    # scanning in blocks stops early, which is almost always after the first block.
    step = max(1, lines.shape[1] // 256)
    half = lines.shape[0] // 2
    colour = np.median(lines[0, ::step], axis=0).astype(np.int16)
    size = 0
    while size < half:
        block = lines[size : min(size + _BLOCK, half), ::step].astype(np.int16)
        close = np.abs(block - colour).max(axis=2) <= COLOUR_TOLERANCE
        content = np.flatnonzero(close.mean(axis=1) < LINE_SHARE)
        if content.size:
            size += int(content[0])
            break
        size += block.shape[0]
    return size if size >= MIN_BORDER * lines.shape[0] else 0


def _keep_content(start: int, end: int, length: int) -> tuple[int, int]:
    if length - start - end < MIN_CONTENT * length:
        return 0, 0
    return start, end
