"""PDQ of decoded video frames: the frame as given, and without letterbox bars."""

from __future__ import annotations

import av
import numpy as np
from PIL import Image

from lykta.hashing.pdq import pdq_from_image
from lykta.hashing.video import hash_frame, hash_luma
from tests.hashing.imagegen import make_photo


def _distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def test_a_frame_without_bars_has_one_hash_equal_to_the_photos() -> None:
    photo = make_photo(640, 360, seed=3)
    frame = av.VideoFrame.from_ndarray(np.asarray(photo), format="rgb24")
    variants = hash_frame(frame)
    assert [v.transform for v in variants] == ["original"]
    assert _distance(variants[0].pdq, pdq_from_image(photo)[0]) <= 10


def test_a_letterboxed_frame_also_hashes_what_lies_between_its_bars() -> None:
    photo = make_photo(640, 270, seed=4)
    boxed = Image.new("RGB", (640, 360))
    boxed.paste(photo, (0, 45))
    luma = np.asarray(boxed.convert("L"))
    variants = {v.transform: v for v in hash_luma(luma)}
    content = pdq_from_image(photo.convert("L"))[0]
    assert set(variants) == {"original", "trimmed"}
    assert _distance(variants["trimmed"].pdq, content) <= 8
    assert _distance(variants["original"].pdq, content) > 31
    assert [v.transform for v in hash_luma(luma, trim=False)] == ["original"]
