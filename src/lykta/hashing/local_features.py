"""ORB local features of a photo, the ``orb`` hash kind: the second matching path.

A banked photo's strongest ``MAX_KEYPOINTS`` ORB keypoints (OpenCV) with their binary
descriptors, packed into one fixed-width code (see ``lykta.index.local_features``). Only
banks built from media the deployment holds can have it: a hash list (NCMEC, StopNCII)
carries no keypoints. Look-ups use it only where PDQ found nothing, and only for banks that
enable local features; its matches say how many keypoints verified (the distance field),
never a Hamming distance.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np
from PIL import Image

from lykta.errors import InvalidInput
from lykta.hashing.base import Hasher, MediaKind, validate_hex
from lykta.index import HashIndex
from lykta.index.local_features import (
    CHUNK_BYTES,
    MAX_KEYPOINTS,
    MIN_INLIERS,
    Chunk,
    LocalFeatureIndex,
    LocalFeatures,
)
from lykta.media import DEFAULT_MAX_PIXELS, decode_image

#: Photos are brought to this longer side before keypoints are found: a fixed working
#: scale makes a crop's and a screenshot's keypoints comparable with the banked ones',
#: and bounds the cost (about 10 ms a photo).
WORK_SIDE = 640
#: A photo with fewer keypoints is too plain to match this way (a flat graphic, a blurred
#: frame); banking it stores no ``orb`` hash, and `add_media` says so.
MIN_KEYPOINTS = 2 * MIN_INLIERS
# FAST's corner threshold: below OpenCV's default of 20, so soft photos still give corners.
_FAST_THRESHOLD = 12


class OrbHasher(Hasher):
    """ORB keypoints and descriptors of a photo. A bank stores a photo's as several rows
    (``rows_of``: 50 keypoints each, 1,816 bytes, written as hex like every other kind);
    a look-up sends them whole (``features_of(...).to_code()``), never as a hash."""

    name = "orb"
    media_kind = MediaKind.PHOTO
    code_bytes = CHUNK_BYTES
    local_features = True
    foreign_names: ClassVar[Mapping[str, tuple[str, ...]]] = {}

    def hash_bytes(self, data: bytes) -> str:
        """The photo's first row (the strongest keypoints); ``rows_of`` gives them all."""
        return self.rows_of(features_of_bytes(data))[0]

    def rows_of(self, features: LocalFeatures) -> list[str]:
        """The rows a bank stores of a photo's keypoints."""
        return [self.from_code(row) for row in features.to_chunks()]

    def validate(self, value: str) -> str:
        text = validate_hex(value, length=2 * CHUNK_BYTES, name="ORB")
        try:
            Chunk.from_row(bytes.fromhex(text))
        except ValueError as error:
            raise InvalidInput(f"invalid ORB hash: {error}") from None
        return text

    def to_code(self, value: str) -> bytes:
        # Never the unchecked fast path: a code's header is read as a keypoint count.
        return bytes.fromhex(self.validate(value))

    def new_index(self) -> HashIndex:
        return LocalFeatureIndex()

    def distance(self, a: str, b: str) -> int:
        """0 for the same keypoints, else 1: similarity is judged by verification (the
        inliers of a geometric check), not by a distance between two codes."""
        return 0 if self.to_code(a) == self.to_code(b) else 1

    def examples(self) -> list[str]:
        gradient = np.add.outer(np.arange(240), np.arange(320)).astype(np.uint8)
        checks = ((np.indices((240, 320)) // 16).sum(axis=0) % 2 * 255).astype(np.uint8)
        return [
            self.rows_of(features_of(Image.fromarray(pixels, "L")))[0]
            for pixels in (gradient, checks)
        ]


def features_of_bytes(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> LocalFeatures:
    """The ORB keypoints of a photo file; raises ``MediaError`` when it cannot be decoded."""
    return features_of(decode_image(data, max_pixels=max_pixels, min_side=WORK_SIDE, luma=True))


def features_of(image: Image.Image) -> LocalFeatures:
    """The ORB keypoints of a decoded photo, at the working scale."""
    import cv2  # here, not at the top: the registry imports this module, most runs never hash

    grey = image if image.mode == "L" else image.convert("L")
    scale = min(1.0, WORK_SIDE / max(grey.size))
    if scale < 1.0:
        grey = grey.resize(
            (max(1, round(grey.width * scale)), max(1, round(grey.height * scale))),
            Image.Resampling.BILINEAR,
        )
    orb = cv2.ORB.create(nfeatures=MAX_KEYPOINTS, fastThreshold=_FAST_THRESHOLD)
    keypoints, descriptors = orb.detectAndCompute(np.asarray(grey), None)
    if descriptors is None or not keypoints:
        return LocalFeatures(
            np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8), grey.width, grey.height
        )
    points = np.array([k.pt for k in keypoints], dtype=np.float32)
    return LocalFeatures(
        points[:MAX_KEYPOINTS], descriptors[:MAX_KEYPOINTS], grey.width, grey.height
    )
