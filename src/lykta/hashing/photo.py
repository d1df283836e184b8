"""Everything a photo lookup needs from one upload: exact hashes and PDQ of every variant.

The file is decoded once; PDQ is taken of the image as given and, for lookups, of its
rotations and flips and of the image without uniform borders, so a re-posted copy that was
rotated, mirrored or letterboxed still matches.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from PIL import Image

from lykta.hashing.borders import find_content_box
from lykta.hashing.pdq import pdq_dihedral_from_image, pdq_from_image
from lykta.media import DEFAULT_MAX_PIXELS, DEFAULT_MIN_SIDE, decode_image


@dataclass(frozen=True, slots=True)
class PdqVariant:
    """PDQ of the photo after ``transform`` ("original", "mirror", "trimmed+rotate90", ...)."""

    transform: str
    pdq: str
    quality: int


@dataclass(frozen=True, slots=True)
class PhotoHashes:
    """Hashes of one photo. ``variants`` starts with "original" and lists all to look up."""

    md5: str
    sha256: str
    pdq: str
    quality: int
    variants: tuple[PdqVariant, ...]


def hash_photo(
    data: bytes,
    *,
    dihedral: bool = True,
    trim: bool = True,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_side: int | None = DEFAULT_MIN_SIDE,
) -> PhotoHashes:
    """Hash a photo file; raises ``MediaError`` when it cannot be decoded safely.

    With ``dihedral`` the variants hold all eight rotations and flips; with ``trim`` and
    uniform borders found, the same again for the trimmed image, prefixed "trimmed"
    ("trimmed" alone stands for the trimmed image as given).
    """
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    sha256 = hashlib.sha256(data).hexdigest()
    # PDQ and border trimming need luma only: JPEGs decode just their Y plane.
    image = decode_image(data, max_pixels=max_pixels, min_side=min_side, luma=True)
    variants = _variants(image, dihedral=dihedral, prefix="")
    if trim and (box := _content_box(data, image, max_pixels, min_side)) is not None:
        variants += _variants(image.crop(box), dihedral=dihedral, prefix="trimmed")
    original = variants[0]
    return PhotoHashes(md5, sha256, original.pdq, original.quality, tuple(variants))


def _content_box(
    data: bytes, image: Image.Image, max_pixels: int, min_side: int | None
) -> tuple[int, int, int, int] | None:
    """Borders as ``find_content_box`` finds them in colour, decoding colour only if needed.

    A line within tolerance in every channel is within it in luma (a weighted mean), so a
    photo without borders in luma, nearly every photo, has none in colour either. Luma alone
    is not enough to trim: it misses colour edges and would cut real content.
    """
    if image.mode == "RGB":
        return find_content_box(image)
    if find_content_box(image) is None:
        return None
    colour = decode_image(data, max_pixels=max_pixels, min_side=min_side)
    return find_content_box(colour)


def _variants(image: Image.Image, *, dihedral: bool, prefix: str) -> list[PdqVariant]:
    def named(transform: str) -> str:
        if not prefix:
            return transform
        return prefix if transform == "original" else f"{prefix}+{transform}"

    if not dihedral:
        pdq, quality = pdq_from_image(image)
        return [PdqVariant(named("original"), pdq, quality)]
    return [
        PdqVariant(named(transform), pdq, quality)
        for transform, pdq, quality in pdq_dihedral_from_image(image)
    ]
