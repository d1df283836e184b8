"""Find a photo shown inside a screenshot or another frame: the large block of texture
between flat UI bands (status and navigation bars, captions, buttons, margins).

Rows of a UI band are mostly one background colour even where text or icons sit on them;
rows of a photo are not. The photo is the tallest run of such non-band rows, then, within
it, the widest run of columns that are not a flat margin. Hashing that region (PDQ, and
local features) finds a screenshot of a banked photo that the whole screenshot never would.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

# Rows and columns are judged on a copy this wide (or tall): enough for bars of a few
# pixels, cheap on the path of every look-up that PDQ does not match.
_WORK_SIDE = 256
# A pixel is background when every channel is within this of the line's commonest colour.
_TOLERANCE = 10
# A row is part of a UI band when this share of it is background (text and icons leave
# most of a bar's row bare); a margin column when nearly all of it is.
BAND_ROW_SHARE = 0.6
MARGIN_COLUMN_SHARE = 0.9
# Rows inside a photo that happen to be flat (a sky, a wall) for fewer than this share of
# the height do not split it.
_GAP_SHARE = 0.04
#: The region must keep at least this share of each side, and cut at least this share of
#: the height or width: smaller cuts are borders, which trimming already handles.
MIN_REGION_SHARE = 0.3
MIN_CUT_SHARE = 0.06


def find_photo_region(image: Image.Image) -> tuple[int, int, int, int] | None:
    """The (left, top, right, bottom) box of the embedded photo, or None when the image
    does not look like a frame around one."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    scale = min(1.0, _WORK_SIDE / max(rgb.size))
    size = (max(8, round(rgb.width * scale)), max(8, round(rgb.height * scale)))
    small = rgb.resize(size, Image.Resampling.BILINEAR)
    pixels = np.asarray(small).astype(np.int16)
    height, width = pixels.shape[:2]
    rows = _background_share(pixels) < BAND_ROW_SHARE
    top, bottom = _longest_run(rows, max(1, round(_GAP_SHARE * height)))
    if bottom - top < MIN_REGION_SHARE * height:
        return None
    columns = _background_share(pixels[top:bottom].transpose(1, 0, 2)) < MARGIN_COLUMN_SHARE
    left, right = _longest_run(columns, 1)
    if right - left < MIN_REGION_SHARE * width:
        return None
    if bottom - top > (1 - MIN_CUT_SHARE) * height and right - left > (1 - MIN_CUT_SHARE) * width:
        return None
    factor_x, factor_y = image.width / width, image.height / height
    return (
        round(left * factor_x),
        round(top * factor_y),
        round(right * factor_x),
        round(bottom * factor_y),
    )


def _background_share(lines: np.ndarray) -> np.ndarray:
    """Per line, the share of its pixels within ``_TOLERANCE`` of its median colour."""
    # The median of about 64 pixels a line finds a band's background as well as all of
    # them would, for a quarter of the cost.
    step = max(1, lines.shape[1] // 64)
    colour = np.median(lines[:, ::step], axis=1, keepdims=True)
    diff = np.abs(lines - colour)
    # Channel by channel: a max over a last axis of three is several times slower.
    close = np.maximum(np.maximum(diff[..., 0], diff[..., 1]), diff[..., 2]) <= _TOLERANCE
    share: np.ndarray = close.mean(axis=1)
    return share


def _longest_run(flags: np.ndarray, gap: int) -> tuple[int, int]:
    """(start, end) of the longest run of True, bridging runs of False shorter than ``gap``."""
    best = (0, 0)
    start: int | None = None
    last_true = -1
    for position, flag in enumerate(flags.tolist()):
        if flag:
            if start is None or position - last_true > gap:
                start = position
            last_true = position
            if last_true + 1 - start > best[1] - best[0]:
                best = (start, last_true + 1)
    return best
