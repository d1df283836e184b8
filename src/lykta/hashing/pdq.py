"""PDQ, Meta's perceptual photo hash: 256 bits compared by Hamming distance.

Hashes are written as 64 lowercase hex digits, most significant bit first, exactly as the
reference implementations and python-threatexchange write them. Indexes take the same
bits as rows of 32 ``uint8`` (``hex_to_codes``), so ``bytes.fromhex`` is the whole mapping.
The hash itself is computed by the numba kernels in ``_pdq_kernels``, bit for bit as the
C++ reference (and ``pdqhash``, which compiles it) computes it from the same luma. They are
imported by the functions that hash, not here: the registry imports this module for the
kind's description, and numba takes a third of a second to import.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import ClassVar

import numpy as np
from PIL import Image

from lykta.errors import InvalidInput
from lykta.hashing.base import Hasher, MediaKind, validate_hex
from lykta.media import DEFAULT_MAX_PIXELS, DEFAULT_MIN_SIDE, decode_image

PDQ_HEX_LENGTH = 64
PDQ_CODE_BYTES = 32

# Largest scratch (float32 elements per plane) kept between calls: reuse saves the page
# faults of two fresh image-sized planes per hash (about 2 ms at 1.6 MP); beyond this
# size, holding the memory is worth more than the faults.
_KEPT_SCRATCH = 16_000_000
_scratch = threading.local()

# Order of the reference's (and pdqhash.compute_dihedral's) dihedral output. Each name says
# what was done to the image before hashing: "rotate90" is a quarter turn counter-clockwise
# (PIL's ROTATE_90), "mirror" swaps left and right, "flip" turns upside down,
# "transpose" swaps x and y,
# "transverse" swaps them across the other diagonal (PIL's TRANSPOSE / TRANSVERSE).
DIHEDRAL_TRANSFORMS: tuple[str, ...] = (
    "original",
    "rotate90",
    "rotate180",
    "rotate270",
    "flip",
    "mirror",
    "transpose",
    "transverse",
)


class PdqHasher(Hasher):
    """PDQ of a photo, decoded through ``lykta.media`` at reduced size (the fast path)."""

    name = "pdq"
    media_kind = MediaKind.PHOTO
    code_bytes = PDQ_CODE_BYTES
    similarity = True
    # Meta's recommended match distance; past 64 of 256 bits unrelated photos start to
    # match each other, and a look-up that wide scans every hash instead of the tables.
    default_distance = 31
    max_distance = 64
    default_min_quality = 50
    foreign_names: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "hma": ("pdq",),
        "threatexchange": ("pdq",),
    }

    def __init__(
        self, *, max_pixels: int = DEFAULT_MAX_PIXELS, min_side: int | None = DEFAULT_MIN_SIDE
    ) -> None:
        self.max_pixels = max_pixels
        self.min_side = min_side

    def hash_bytes(self, data: bytes) -> str:
        return self.hash_with_quality(data)[0]

    def hash_with_quality(self, data: bytes) -> tuple[str, int]:
        """Hash and quality (0-100); below about 50 a PDQ hash is too flat to match on."""
        image = decode_image(data, max_pixels=self.max_pixels, min_side=self.min_side, luma=True)
        return pdq_from_image(image)

    def validate(self, value: str) -> str:
        return validate_hex(value, length=PDQ_HEX_LENGTH, name="PDQ")

    def distance(self, a: str, b: str) -> int:
        """Hamming distance: the number of the 256 bits that differ."""
        return (int(self.validate(a), 16) ^ int(self.validate(b), 16)).bit_count()

    def examples(self) -> list[str]:
        # Published reference hashes of the benign bridge photo in the PDQ repository.
        return [
            "f8f8f0cce0f4e84d0e370a22028f67f0b36e2ed596623e1d33e6339c4e9c9b22",
            "b0a10efd71cc3f429413d48d0ffffe12e34e0e17ada952a9d29684210aa9e5af",
            "accb6d39648035f8125c8ce6ba65007de7b54c67a2d93ef7b8f33b0611306715",
        ]


def pdq_from_image(image: Image.Image) -> tuple[str, int]:
    """PDQ hash and quality of an image ("L" is taken as luma, any other mode via RGB)."""
    from lykta.hashing._pdq_kernels import pdq_codes

    codes, qualities = pdq_codes(*_luma_and_scratch(image), False)
    return codes[0].tobytes().hex(), int(qualities[0])


def pdq_dihedral_from_image(image: Image.Image) -> list[tuple[str, str, int]]:
    """(transform, hash, quality) for all eight rotations and flips, ``DIHEDRAL_TRANSFORMS``.

    Each equals, up to float32 rounding, ``pdq_from_image`` of the transformed image
    ("original" exactly), for little more than one hash: see docs/hashing.md.
    """
    from lykta.hashing._pdq_kernels import pdq_codes

    codes, qualities = pdq_codes(*_luma_and_scratch(image), True)
    return [
        (transform, code.tobytes().hex(), int(quality))
        for transform, code, quality in zip(DIHEDRAL_TRANSFORMS, codes, qualities, strict=True)
    ]


def pdq_from_luma(luma: np.ndarray, *, dihedral: bool = False) -> list[tuple[str, str, int]]:
    """(transform, hash, quality) of a 2-D ``uint8`` luma array as it is (and, with
    ``dihedral``, of its rotations and flips): a video frame's plane, with no image copy."""
    from lykta.hashing._pdq_kernels import pdq_codes

    codes, qualities = pdq_codes(*_scratch_for(np.ascontiguousarray(luma)), dihedral)
    return [
        (transform, code.tobytes().hex(), int(quality))
        for transform, code, quality in zip(DIHEDRAL_TRANSFORMS, codes, qualities, strict=False)
    ]


def bits_to_hex(bits: np.ndarray) -> str:
    """pdqhash's 256-element bit vector (most significant first) as 64 hex digits."""
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()


def hex_to_code(value: str) -> np.ndarray:
    """One PDQ hash as a ``(32,)`` uint8 array, for the index."""
    return np.frombuffer(bytes.fromhex(validate_hex(value, length=64, name="PDQ")), np.uint8)


def hex_to_codes(values: Iterable[str]) -> np.ndarray:
    """PDQ hashes as an ``(n, 32)`` uint8 array, for the index."""
    raw = b"".join(bytes.fromhex(validate_hex(v, length=64, name="PDQ")) for v in values)
    return np.frombuffer(raw, np.uint8).reshape(-1, PDQ_CODE_BYTES).copy()


def code_to_hex(code: np.ndarray | Sequence[int]) -> str:
    """Inverse of ``hex_to_code``."""
    row = np.asarray(code, dtype=np.uint8)
    if row.shape != (PDQ_CODE_BYTES,):
        raise InvalidInput(f"a PDQ code is {PDQ_CODE_BYTES} bytes, got shape {row.shape}")
    return row.tobytes().hex()


def _luma_and_scratch(image: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    from lykta.hashing._pdq_kernels import luma_from_rgb

    if image.mode == "L":
        luma = np.asarray(image)
    else:
        luma = luma_from_rgb(np.asarray(image if image.mode == "RGB" else image.convert("RGB")))
    return _scratch_for(luma)


def _scratch_for(luma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    size = luma.size
    work = getattr(_scratch, "work", None)
    if work is None or work.shape[1] < size:
        work = np.empty((2, size), np.float32)
        if size <= _KEPT_SCRATCH:
            _scratch.work = work
    return luma, work
