"""Tests for lykta.media.images: every format and mode decodes; bad input is a MediaError."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from lykta.errors import MediaError
from lykta.media import decode_image
from tests.testdata import THREATEXCHANGE, needs_testdata

MODES = THREATEXCHANGE / "pdq" / "data" / "misc-images" / "modes"
UNSUPPORTED = r"not a supported image \(JPEG, PNG, WebP, GIF, BMP, TIFF\)"


def _photo(width: int = 320, height: int = 240) -> Image.Image:
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack([x * 255 // width, y * 255 // height, (x + y) % 256], axis=2)
    return Image.fromarray(pixels.astype(np.uint8), "RGB")


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


JPEG = _encode(_photo(), "JPEG", quality=90)
PNG = _encode(_photo(), "PNG")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"])
def test_supported_formats_decode_to_rgb(fmt: str) -> None:
    image = decode_image(_encode(_photo(), fmt))
    assert image.mode == "RGB" and image.size == (320, 240)


def test_gif_first_frame() -> None:
    frames = [Image.new("RGB", (64, 48), colour) for colour in ("red", "blue")]
    data = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    assert decode_image(data).getpixel((5, 5)) == (255, 0, 0)


def test_exif_orientation_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: display rotated 90 degrees clockwise
    assert decode_image(_encode(_photo(), "JPEG", exif=exif)).size == (240, 320)


def test_jpeg_decodes_at_reduced_scale_but_keeps_min_side() -> None:
    data = _encode(_photo(2400, 1600), "JPEG")
    assert decode_image(data).size == (1200, 800)
    assert decode_image(data, min_side=200).size == (300, 200)
    assert decode_image(data, min_side=None).size == (2400, 1600)


def test_other_formats_are_reduced_by_whole_factors() -> None:
    assert decode_image(_encode(_photo(2100, 1100), "PNG")).size == (1050, 550)
    assert decode_image(_encode(_photo(1000, 1000), "PNG")).size == (1000, 1000)


@pytest.mark.parametrize("mode", ["I;16", "I", "F"])
def test_wide_range_modes_are_rescaled_not_clipped(mode: str) -> None:
    ramp = np.tile(np.linspace(0, 60000, 256), (64, 1))
    image = Image.fromarray(ramp.astype(np.uint16 if mode == "I;16" else np.float32))
    image = image.convert(mode) if mode != "I;16" else image
    pixels = np.asarray(decode_image(_encode(image, "PNG" if mode == "I;16" else "TIFF")))
    assert pixels[0, 0, 0] < 5 and pixels[0, -1, 0] > 200 and pixels[0, 128, 0] < 160


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "PA", "RGBA", "CMYK", "YCbCr", "HSV"])
def test_every_pillow_mode_converts(mode: str) -> None:
    image = _photo().convert(mode)
    fmt = {"CMYK": "JPEG", "YCbCr": "JPEG", "HSV": "TIFF", "PA": "PNG"}.get(mode, "PNG")
    try:
        data = _encode(image, fmt)
    except OSError:
        pytest.skip(f"Pillow cannot write {mode} as {fmt}")
    assert decode_image(data).mode == "RGB"


@needs_testdata
def test_mode_gallery_decodes() -> None:
    for path in sorted(MODES.glob("*.*")):
        if path.suffix != ".md":
            assert decode_image(path.read_bytes()).mode == "RGB", path.name


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "file is empty"),
        (b"just some text, not a picture\n" * 20, UNSUPPORTED),
        (bytes(range(256)) * 8, UNSUPPORTED),
        (_encode(_photo(), "PPM"), UNSUPPORTED),
        (_encode(_photo(), "ICO"), UNSUPPORTED),
        (JPEG[: len(JPEG) // 2], "image is truncated or corrupt: image file is truncated"),
        (PNG[: len(PNG) // 2], "image is truncated or corrupt: "),
        (JPEG[:12], "image is truncated or corrupt: "),
        (PNG[:6], "image is truncated or corrupt: header unreadable"),
        (PNG[:20], "image is truncated or corrupt: "),
    ],
    ids=[
        "empty",
        "text",
        "random",
        "ppm",
        "ico",
        "jpeg-half",
        "png-half",
        "jpeg-12",
        "png-6",
        "png-20",
    ],
)
def test_bad_input_message(data: bytes, message: str) -> None:
    with pytest.raises(MediaError, match=f"^{message}"):
        decode_image(data)


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge size: the cheap decompression bomb."""
    data = bytearray(_encode(Image.new("L", (1, 1)), "PNG"))
    header = b"IHDR" + struct.pack(">II", width, height) + bytes(data[24:29])
    data[12:29] = header
    data[29:33] = struct.pack(">I", zlib.crc32(header))
    return bytes(data)


def test_decompression_bomb_header_is_refused_before_decoding() -> None:
    with pytest.raises(MediaError, match=r"^image is over .* Mpx, over the limit of 100 Mpx"):
        decode_image(_png_claiming(50_000, 50_000))
    message = r"^image is 12000x10000 = 120 Mpx, over the limit of 100 Mpx \(LYKTA_MAX_PIXELS\)$"
    with pytest.raises(MediaError, match=message):
        decode_image(_png_claiming(12_000, 10_000))


def test_lower_pixel_limit() -> None:
    with pytest.raises(MediaError, match=r"^image is 320x240 = 0.0768 Mpx, over the limit of 0.05"):
        decode_image(JPEG, max_pixels=50_000)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=2048),
        st.sampled_from([JPEG, PNG]).flatmap(
            lambda d: st.integers(0, len(d)).map(lambda n, d=d: d[:n])
        ),
        st.tuples(st.sampled_from([JPEG, PNG]), st.integers(0, 10**9), st.integers(0, 255)).map(
            lambda t: t[0][: t[1] % len(t[0])] + bytes([t[2]]) + t[0][t[1] % len(t[0]) + 1 :]
        ),
    )
)
def test_fuzz_only_media_error_escapes(data: bytes) -> None:
    try:
        image = decode_image(data)
    except MediaError as exc:
        assert "\n" not in exc.message
    else:
        assert image.mode == "RGB"
