"""Decode untrusted image bytes into a ``PIL.Image``, safely and only as large as needed.

Every failure becomes a ``MediaError`` with a one-line message, so a hostile or broken upload
can never crash a worker or leak a Pillow exception to a caller.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageFile, ImageOps, JpegImagePlugin, UnidentifiedImageError

from lykta.errors import MediaError

SUPPORTED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
DEFAULT_MAX_PIXELS = 100_000_000
# PDQ box-filters the luma down to 64x64; the reference hashes of 1600x1004 photos stay
# within 10 bits when at least 512 pixels remain on the shorter side (see docs/hashing.md).
DEFAULT_MIN_SIDE = 512

_NAMES = "JPEG, PNG, WebP, GIF, BMP, TIFF"
_MAGIC: tuple[bytes, ...] = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"BM", b"II*\x00", b"MM\x00*")


def decode_image(
    data: bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_side: int | None = DEFAULT_MIN_SIDE,
    luma: bool = False,
) -> Image.Image:
    """Return the first frame of ``data`` as an upright RGB image.

    With ``min_side`` set, the image may come back smaller than stored, but never with its
    shorter side under ``min_side`` (unless it was smaller to begin with): JPEGs are decoded
    at 1/2, 1/4 or 1/8 scale in the DCT domain, other formats are box-reduced by an integer
    factor. ``min_side=None`` decodes at full resolution. Alpha is dropped, not composited,
    as the PDQ reference implementations do, so hashes agree with theirs.

    With ``luma`` the image comes back in mode "L" wherever that costs nothing in accuracy
    (JPEG's own Y plane, which libjpeg then decodes alone, and greyscale sources) and RGB
    otherwise, for callers such as PDQ that only look at luma.
    """
    if not data:
        raise MediaError("file is empty")
    # Pillow warns about large images and odd metadata; our own limit below decides.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        image: Image.Image = _open(data, max_pixels)
        width, height = image.size
        if width * height > max_pixels:
            raise MediaError(
                f"image is {width}x{height} = {_mpx(width * height)} Mpx, "
                f"over the limit of {_mpx(max_pixels)} Mpx (LYKTA_MAX_PIXELS)"
            )
        try:
            if isinstance(image, JpegImagePlugin.JpegImageFile) and (min_side or luma):
                # JPEG stores Y with PDQ's own 0.299/0.587/0.114 weights: asking for "L"
                # skips chroma IDCT, upsampling and colour conversion.
                image.draft("L" if luma else None, (min_side, min_side) if min_side else None)
            image.load()
            image = ImageOps.exif_transpose(image)
            image = _to_luma_or_rgb(image) if luma else _to_rgb(image)
        except MediaError:
            raise
        except Exception as exc:
            raise MediaError(f"image is truncated or corrupt: {_describe(exc)}") from exc
    if min_side:
        factor = min(image.size) // min_side
        if factor >= 2:
            image = image.reduce(factor)
    return image


def _open(data: bytes, max_pixels: int) -> ImageFile.ImageFile:
    try:
        return Image.open(io.BytesIO(data), formats=SUPPORTED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow refuses before we see the size; its own limit is the one we report.
        limit = min(max_pixels, 2 * (Image.MAX_IMAGE_PIXELS or max_pixels))
        raise MediaError(
            f"image is over {_mpx(limit)} Mpx, over the limit of {_mpx(max_pixels)} Mpx "
            f"(LYKTA_MAX_PIXELS)"
        ) from exc
    except UnidentifiedImageError as exc:
        if _looks_supported(data):
            raise MediaError("image is truncated or corrupt: header unreadable") from exc
        raise MediaError(f"not a supported image ({_NAMES})") from exc
    except Exception as exc:
        raise MediaError(f"image is truncated or corrupt: {_describe(exc)}") from exc


def _looks_supported(data: bytes) -> bool:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return True
    return data.startswith(_MAGIC)


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB without clipping wide-range pixels."""
    image = _to_luma_or_rgb(image)
    return image if image.mode == "RGB" else image.convert("RGB")


def _to_luma_or_rgb(image: Image.Image) -> Image.Image:
    """8-bit "L" for greyscale sources, 8-bit RGB for everything else.

    ``Image.convert`` clips 16-bit and float pixels to 0..255, which turns most 16-bit
    photos white; PDQ bits only depend on relative luma, so we rescale instead.
    """
    mode = image.mode
    if mode in ("RGB", "L"):
        return image
    if mode in ("1", "LA"):
        return image.convert("L")
    if mode.startswith("I;16"):
        high_bytes = np.asarray(image).astype(np.uint32) >> 8
        return Image.fromarray(high_bytes.astype(np.uint8), "L")
    if mode in ("I", "F"):
        pixels = np.asarray(image, dtype=np.float64)
        low, high = float(pixels.min()), float(pixels.max())
        if low < 0 or high > 255:
            pixels = (pixels - low) * (255.0 / (high - low or 1.0))
        return Image.fromarray(np.rint(pixels).astype(np.uint8), "L")
    if mode in ("La", "RGBa"):
        image = image.convert("RGBA")
    try:
        return image.convert("RGB")
    except ValueError as exc:
        raise MediaError(f"image mode {mode} is not supported") from exc


def _describe(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text or type(exc).__name__


def _mpx(pixels: int) -> str:
    return f"{pixels / 1_000_000:g}"
