"""Benign synthetic videos for tests: scenes of generated photos, encoded with PyAV."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np
from PIL import Image

from tests.hashing.imagegen import make_photo


def make_video(
    path: Path,
    scenes: Sequence[int | None],
    *,
    fps: int = 10,
    seconds_per_scene: float = 1.0,
    size: tuple[int, int] = (320, 240),
    bars: int = 0,
) -> Path:
    """An H.264 MP4 showing each scene (a `make_photo` seed, or None for flat grey) still
    for ``seconds_per_scene``; with ``bars``, black bars that many pixels high above and
    below the picture (letterboxing)."""
    width, height = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for seed in scenes:
            picture = (
                Image.new("RGB", (width, height - 2 * bars), (128, 128, 128))
                if seed is None
                else make_photo(width, height - 2 * bars, seed=seed)
            )
            if bars:
                boxed = Image.new("RGB", size)
                boxed.paste(picture, (0, bars))
                picture = boxed
            frame = av.VideoFrame.from_ndarray(np.asarray(picture), format="rgb24")
            for _ in range(round(fps * seconds_per_scene)):
                for packet in stream.encode(frame):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
