"""Benign synthetic videos for tests: generated pictures panned slowly, scene by scene."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageOps

from tests.hashing.imagegen import make_photo

Edit = Callable[[Image.Image], Image.Image]


def scene_frames(seed: int, seconds: float, fps: int, size: tuple[int, int]) -> list[Image.Image]:
    """``seconds`` of one scene: a generated picture larger than the frame, panned across."""
    width, height = size
    picture = make_photo(width * 9 // 8, height * 9 // 8, seed=seed)
    count = round(seconds * fps)
    frames = []
    for number in range(count):
        step = number / max(1, count - 1)
        left = round(step * (picture.width - width))
        top = round(step * (picture.height - height) / 2)
        frames.append(picture.crop((left, top, left + width, top + height)))
    return frames


def write_video(
    path: Path,
    scenes: Sequence[int],
    *,
    scene_seconds: float = 5.0,
    fps: int = 10,
    size: tuple[int, int] = (320, 240),
    start: float = 0.0,
    end: float | None = None,
    edit: Edit | None = None,
) -> Path:
    """A video of the given scenes (generated from their seeds) in order; ``start``/``end``
    cut an excerpt (seconds) and ``edit`` changes every frame (a mirror, bars, ...)."""
    frames = [frame for seed in scenes for frame in scene_frames(seed, scene_seconds, fps, size)]
    frames = frames[round(start * fps) : None if end is None else round(end * fps)]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        first = edit(frames[0]) if edit else frames[0]
        stream.width, stream.height, stream.pix_fmt = first.width, first.height, "yuv420p"
        for frame in frames:
            image = edit(frame) if edit else frame
            packets = stream.encode(av.VideoFrame.from_ndarray(np.asarray(image), "rgb24"))
            container.mux(packets)
        container.mux(stream.encode())
    return path


def mirrored(image: Image.Image) -> Image.Image:
    return ImageOps.mirror(image)


def letterboxed(image: Image.Image) -> Image.Image:
    boxed = Image.new("RGB", (image.width, image.height * 4 // 3))
    boxed.paste(image, (0, image.height // 6))
    return boxed
