"""Benign synthetic videos for tests: generated pictures panned slowly, scene by scene, or
shown still (for sampling and de-duplication)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageOps

from tests.hashing.imagegen import cropped, make_photo, make_textured_photo, overlaid, rotated

Edit = Callable[[Image.Image], Image.Image]


def scene_frames(
    seed: int, seconds: float, fps: int, size: tuple[int, int], *, textured: bool = False
) -> list[Image.Image]:
    """``seconds`` of one scene: a generated picture larger than the frame, panned across;
    ``textured``, with the small shapes and strokes local features need."""
    width, height = size
    make = make_textured_photo if textured else make_photo
    picture = make(width * 9 // 8, height * 9 // 8, seed=seed)
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
    textured: bool = False,
) -> Path:
    """A video of the given scenes (generated from their seeds) in order; ``start``/``end``
    cut an excerpt (seconds) and ``edit`` changes every frame (a mirror, bars, a crop, ...);
    ``textured`` scenes have the detail local features need."""
    frames = [
        frame
        for seed in scenes
        for frame in scene_frames(seed, scene_seconds, fps, size, textured=textured)
    ]
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


def cropped_and_turned(image: Image.Image) -> Image.Image:
    """A tenth cut off and turned 4 degrees, at the frame's size: every frame's PDQ moves
    far, its local features stay."""
    return rotated(cropped(image, 0.1, 1), 4).resize(image.size)


def cropped_and_stamped(image: Image.Image) -> Image.Image:
    """An eighth cut off, a logo and a caption stamped on, at the frame's size."""
    return overlaid(cropped(image, 0.12, 2), 3).resize(image.size)


def letterboxed(image: Image.Image) -> Image.Image:
    boxed = Image.new("RGB", (image.width, image.height * 4 // 3))
    boxed.paste(image, (0, image.height // 6))
    return boxed


def still_video(
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
