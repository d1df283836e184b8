"""Benign generated test videos for the video benchmarks, encoded with PyAV and cached.

Each clip is a seeded scene of smooth colour fields and blurred shapes that the camera
pans across, with moving shapes in front and a cut to a new scene every few seconds, so
consecutive sampled frames differ as in real footage and clips of different seeds are
unrelated. Nothing here is downloaded: every frame is drawn from a seed.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

# The canvas every scene is drawn on; encodes scale it (swscale) to their size.
CANVAS = (960, 540)
SCENE_SECONDS = 6.0


def cache_dir() -> Path:
    """Where generated clips are kept between runs (``LYKTA_BENCH_CACHE`` or the temp dir)."""
    root = os.environ.get("LYKTA_BENCH_CACHE") or Path(tempfile.gettempdir()) / "lykta-bench"
    folder = Path(root) / "videos"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _scene(rng: np.random.Generator) -> np.ndarray:
    """One scene: a picture 1.5x the canvas each way, for the camera to pan over."""
    width, height = int(CANVAS[0] * 1.5), int(CANVAS[1] * 1.5)
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    channels = [
        127 + 90 * np.sin(np.pi * (rng.uniform(1, 4) * x + rng.uniform(0.5, 3) * y) + phase)
        for phase in rng.uniform(0, 6, 3)
    ]
    image = Image.fromarray(np.clip(np.stack(channels, axis=2), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(30):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(height // 14, height // 3))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x0, y0, x0 + size, y0 + size * 2 // 3), fill=colour)
    image = image.filter(ImageFilter.BoxBlur(2))
    texture = rng.normal(0, 6, (height, width, 1)).astype(np.float32)  # grain to encode
    return np.clip(np.asarray(image, dtype=np.float32) + texture, 0, 255).astype(np.uint8)


def frames(seed: int, seconds: float, fps: int) -> Iterator[np.ndarray]:
    """The clip's RGB frames at the canvas size: panning scenes with moving shapes."""
    rng = np.random.default_rng(seed)
    width, height = CANVAS
    per_scene = int(SCENE_SECONDS * fps)
    total = round(seconds * fps)
    scene = _scene(rng)
    for number in range(total):
        if number and number % per_scene == 0:
            scene = _scene(rng)
        t = (number % per_scene) / per_scene
        left = int(t * (scene.shape[1] - width))
        top = int((0.5 + 0.5 * np.sin(2 * np.pi * t)) * (scene.shape[0] - height))
        frame = scene[top : top + height, left : left + width].copy()
        for k in range(3):  # shapes crossing the picture, in front of the pan
            size = height // (4 + k)
            cx = int((t * (1 + k) + 0.3 * k) % 1.0 * (width + size)) - size
            cy = int(height * (0.2 + 0.3 * k))
            frame[max(cy, 0) : cy + size // 2, max(cx, 0) : max(cx + size, 0)] = (
                (seed * 37 + 80 * k) % 256,
                (seed * 91 + 50 * k) % 256,
                (seed * 53 + 120 * k) % 256,
            )
        yield frame


def encode(
    path: Path,
    source: Iterator[np.ndarray],
    *,
    size: tuple[int, int],
    fps: int = 30,
    crf: int = 23,
    bit_rate: int | None = None,
    gop: int = 60,
) -> Path:
    """Encode RGB frames as H.264 (yuv420p, ``gop`` frames between key frames) in MP4,
    scaled to ``size``; written under a temporary name and renamed, so a cache never
    holds half a file."""
    partial = path.with_suffix(".partial.mp4")
    with av.open(str(partial), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        stream.codec_context.gop_size = gop
        options = {"preset": "veryfast", "bf": "2"}
        if bit_rate is None:
            options["crf"] = str(crf)
        else:
            stream.bit_rate = bit_rate
        stream.options = options
        for number, pixels in enumerate(source):
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            if (frame.width, frame.height) != size:
                frame = frame.reformat(width=size[0], height=size[1], interpolation="AREA")
            frame.pts = number
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    partial.rename(path)
    return path


def generated_clip(seed: int, seconds: float, size: tuple[int, int], fps: int = 30) -> Path:
    """A cached generated clip: drawn and encoded on first use."""
    path = cache_dir() / f"clip-s{seed}-{seconds:g}s-{size[0]}x{size[1]}-{fps}fps.mp4"
    if not path.exists():
        encode(path, frames(seed, seconds, fps), size=size, fps=fps)
    return path


def duration(path: Path) -> float:
    """A video's length in seconds, from its container."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        return float(container.duration or 0) / av.time_base
