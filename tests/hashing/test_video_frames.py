"""PDQ of decoded video frames: the frame as given, and without letterbox bars."""

from __future__ import annotations

import hashlib
from pathlib import Path

import av
import numpy as np
from PIL import Image

from lykta.hashing.pdq import pdq_from_image
from lykta.hashing.video import hash_frame, hash_luma, hash_video
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


def test_a_video_file_is_sampled_by_time_and_its_digests_cover_every_byte(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for number in range(35):  # 3.5 s at 10 frames a second
            photo = make_photo(320, 240, seed=number // 10)
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.asarray(photo), "rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    every_second = hash_video(path)
    assert [f.seconds for f in every_second.frames] == [0.0, 1.0, 2.0, 3.0]
    assert every_second.md5 == hashlib.md5(path.read_bytes()).hexdigest()
    assert every_second.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert every_second.duration is not None and 3.4 <= every_second.duration <= 3.6
    with path.open("rb") as file:
        assert len(hash_video(file, interval=None).frames) == 35
