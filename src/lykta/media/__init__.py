"""Safe decoding of uploaded media into pixels that hashers can use."""

from lykta.media.images import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_MIN_SIDE,
    SUPPORTED_FORMATS,
    decode_image,
)

__all__ = ["DEFAULT_MAX_PIXELS", "DEFAULT_MIN_SIDE", "SUPPORTED_FORMATS", "decode_image"]
