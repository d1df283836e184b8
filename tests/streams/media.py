"""Benign clips for stream tests, written with PyAV into any container FFmpeg can mux: a
file, HLS segments, MPEG-TS over UDP, FLV to an RTMP server. Each clip is a list of scenes:
a generated photo (by seed) held for a number of seconds."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import av
import numpy as np
from PIL import Image

from lykta.banks.items import ContentItem, ItemHash
from lykta.hashing.video import hash_video
from tests.hashing.imagegen import make_photo

SIZE = (320, 240)
FPS = 10
Scene = tuple[int, float]  # (photo seed, seconds)


@cache
def _picture(seed: int) -> np.ndarray:
    return np.asarray(make_photo(*SIZE, seed=seed))


def write_clip(
    target: str | Path,
    scenes: Sequence[Scene],
    *,
    format: str | None = None,
    options: dict[str, str] | None = None,
    realtime: bool = False,
    stop: threading.Event | None = None,
) -> None:
    """Encode `scenes` as H.264 at FPS frames a second (a key frame each second, so a
    reader may join at any second); with `realtime`, frames go out at their real rate."""
    with av.open(str(target), "w", format=format, options=options or {}) as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = *SIZE, "yuv420p"
        stream.options = {"g": str(FPS), "tune": "zerolatency", "preset": "ultrafast"}
        started = time.monotonic()
        number = 0
        for seed, seconds in scenes:
            picture = _picture(seed)
            for _ in range(round(seconds * FPS)):
                if stop is not None and stop.is_set():
                    return
                if realtime:
                    time.sleep(max(0.0, started + number / FPS - time.monotonic()))
                frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
                frame.pts = number
                container.mux(stream.encode(frame))
                number += 1
        container.mux(stream.encode())


def video_item(path: Path, external_id: str) -> ContentItem:
    """A bank item holding a clip's frame hashes (every 0.5 s) as `lykta bank add` would."""
    hashes = hash_video(path, interval=0.5)
    frames = tuple(ItemHash("pdq", f.pdq, f.quality, f.seconds) for f in hashes.frames)
    return ContentItem(frames, external_id, media_kind="video", duration=hashes.duration)


def write_pictures(target: Path, pictures: Sequence[Image.Image], seconds: float = 2.0) -> Path:
    """A clip showing each picture (all of one even size) still for ``seconds``."""
    with av.open(str(target), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = *pictures[0].size, "yuv420p"
        stream.options = {"g": str(FPS), "preset": "ultrafast"}
        for picture in pictures:
            frame = av.VideoFrame.from_ndarray(np.asarray(picture.convert("RGB")), format="rgb24")
            for _ in range(round(seconds * FPS)):
                container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return target
