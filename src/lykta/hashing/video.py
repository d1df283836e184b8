"""PDQ of video frames: the frame as it is and, when it has bars, without them.

Letterboxed and pillarboxed re-uploads are the commonest edit of a traded video; bars move
PDQ far from the original's hash, so a frame with bars is hashed twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from lykta.errors import MediaError
from lykta.hashing.borders import content_box_of
from lykta.hashing.pdq import pdq_from_luma
from lykta.media.video import decode_for_sampling, frame_luma

if TYPE_CHECKING:
    import av
    import av.container


@dataclass(frozen=True, slots=True)
class FrameVariant:
    """PDQ of one frame after ``transform`` ("original", or "trimmed" without its bars)."""

    transform: str
    pdq: str
    quality: int


def hash_luma(
    luma: np.ndarray, *, trim: bool = True, mirror: bool = False
) -> tuple[FrameVariant, ...]:
    """PDQ of a frame's luma plane; with ``trim`` and bars found, of the part inside too;
    with ``mirror`` (for look-ups: re-uploads are often flipped) of the mirrored frame as
    well, which costs little more than one hash."""
    # Arrays throughout, no PIL image: at 1080p each copy of the frame costs milliseconds.
    variants = _pdq_variants(luma, mirror, "")
    if trim and (box := content_box_of(luma)) is not None:
        left, top, right, bottom = box
        variants += [
            variant
            for variant in _pdq_variants(luma[top:bottom, left:right], mirror, "trimmed")
            if variant.pdq not in {v.pdq for v in variants}
        ]
    return tuple(variants)


def _pdq_variants(luma: np.ndarray, mirror: bool, prefix: str) -> list[FrameVariant]:
    def named(transform: str) -> str:
        if not prefix:
            return transform
        return prefix if transform == "original" else f"{prefix}+{transform}"

    return [
        FrameVariant(named(transform), pdq, quality)
        for transform, pdq, quality in pdq_from_luma(luma, dihedral=mirror)
        if transform in ("original", "mirror")
    ]


def hash_frame(
    frame: av.VideoFrame, *, trim: bool = True, mirror: bool = False
) -> tuple[FrameVariant, ...]:
    """``hash_luma`` of a decoded frame."""
    return hash_luma(frame_luma(frame), trim=trim, mirror=mirror)


@dataclass(frozen=True, slots=True)
class SampledFrame:
    """One sampled frame of a video: its time from the start and its PDQ variants."""

    seconds: float
    variants: tuple[FrameVariant, ...]

    @property
    def pdq(self) -> str:
        return self.variants[0].pdq

    @property
    def quality(self) -> int:
        return self.variants[0].quality


@dataclass(frozen=True, slots=True)
class VideoHashes:
    """Hashes of one video file: its digests, its length and its sampled frames."""

    md5: str
    sha256: str
    duration: float | None
    frames: tuple[SampledFrame, ...]


# From this sampling interval on, frames nothing refers to are not decoded (see
# ``decode_for_sampling``): a sample then lands at most a frame or two after its tick.
SPARSE_INTERVAL = 0.5


@dataclass(frozen=True, slots=True)
class VideoLimits:
    """What a video may cost before it is refused: a hostile file can claim or hold hours of
    frames, or frames of billions of pixels."""

    max_seconds: float = 6 * 3600.0
    max_frames: int = 1_000_000
    max_pixels: int = 100_000_000


def hash_video(
    source: str | Path | BinaryIO,
    *,
    interval: float | None = 1.0,
    trim: bool = True,
    mirror: bool = False,
    dedupe: int | None = None,
    min_quality: int = 0,
    limits: VideoLimits = VideoLimits(),  # frozen: one shared default is safe
) -> VideoHashes:
    """Hash a video file: a frame every ``interval`` seconds (every frame when None or 0),
    and the MD5 and SHA-256 of the file's bytes.

    With ``dedupe`` a sampled frame whose PDQ is within that distance of the last frame kept
    is dropped, so a still scene costs one hash; a frame whose quality is below
    ``min_quality`` is dropped too. Raises ``MediaError`` when the file cannot be decoded or
    is past ``limits``.

    A reader thread decodes and hands over the sampled frames' luma while this thread
    hashes the previous ones: the decoder (in C, without the GIL) and PDQ run side by side.
    """
    digests = _Digests(source)
    samples: queue.Queue[tuple[float, np.ndarray] | _Read | BaseException] = queue.Queue(
        maxsize=_SAMPLES_AHEAD
    )
    stop = threading.Event()
    reader = threading.Thread(
        target=_read_samples,
        args=(digests, interval or 0.0, limits, samples, stop),
        name="lykta-video-reader",
        daemon=True,
    )
    reader.start()
    frames: list[SampledFrame] = []
    kept: int | None = None  # the last kept frame's PDQ, as an integer
    try:
        while not isinstance(item := samples.get(), _Read):
            if isinstance(item, BaseException):
                raise item
            seconds, luma = item
            variants = hash_luma(luma, trim=trim, mirror=mirror)
            if variants[0].quality < min_quality:
                continue
            code = int(variants[0].pdq, 16)
            if dedupe is not None and kept is not None and (code ^ kept).bit_count() <= dedupe:
                continue
            kept = code
            frames.append(SampledFrame(seconds, variants))
    finally:
        stop.set()
        while reader.is_alive():  # let a reader blocked on a full queue see the stop
            with contextlib.suppress(queue.Empty):
                samples.get(timeout=0.05)
        digests.close()
    return VideoHashes(item.md5, item.sha256, item.duration, tuple(frames))


# Sampled frames decoded ahead of the hashing: enough to keep both threads busy, few enough
# that 1080p planes (2 MB each) stay cheap.
_SAMPLES_AHEAD = 8


@dataclass(frozen=True, slots=True)
class _Read:
    """The reader's last word: the file's digests and length."""

    md5: str
    sha256: str
    duration: float


def _read_samples(
    digests: _Digests,
    interval: float,
    limits: VideoLimits,
    out: queue.Queue[tuple[float, np.ndarray] | _Read | BaseException],
    stop: threading.Event,
) -> None:
    """Decode the sampled frames into ``out`` as (seconds, luma), then a ``_Read``; an
    error instead, as a ``MediaError`` where the file is at fault."""

    def put(item: tuple[float, np.ndarray] | _Read | BaseException) -> bool:
        while not stop.is_set():
            with contextlib.suppress(queue.Full):
                out.put(item, timeout=0.05)
                return True
        return False

    import av  # here, not at the top: the core imports this module, most runs never decode

    try:
        with av.open(digests.file, mode="r") as container:
            if not container.streams.video:
                raise MediaError("the file has no video stream")
            stream = container.streams.video[0]
            # Slice threads, not frame threads: a sampled decode feeds the decoder in bursts
            # (held-back packets, then a key frame), which frame threads turn into waits;
            # measured on 1080p and 360p H.264, slices took 1.86 s and 0.37 s of wall time
            # where frame threads took 2.67 s and 0.52 s, for less CPU.
            stream.thread_type = "SLICE"
            _check_declared(container, stream, limits)
            ticks = _Ticks(interval)
            last = 0.0
            decoded = 0
            # Check samples (a second apart) may fall a frame later than the tick; bank
            # samples (denser) stay on it.
            sparse = ticks.interval >= SPARSE_INTERVAL
            held = _Held(limits)
            for frame in decode_for_sampling(
                container, stream, ticks.due, skip_unreferenced=sparse, on_packet=held.count
            ):
                decoded += 1
                seconds = float(frame.time) if frame.time is not None else last
                last = seconds
                _check_frame(frame, seconds, limits)
                if not ticks.take(seconds):
                    continue  # not sampled: no scaling, no hashing
                if not put((round(seconds, 3), frame_luma(frame))):
                    return
            duration = _duration(container, stream, last)
        if not decoded:
            raise MediaError("the video has no frames")
        md5, sha256 = digests.hexdigests()
        put(_Read(md5, sha256, duration))
    except av.FFmpegError as error:
        put(MediaError(f"cannot decode the video: {error}"))
    except BaseException as error:  # handed to the caller's thread, raised there
        put(error)


class _Ticks:
    """When the next sample is due: every ``interval`` seconds (every frame when 0)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.next_at = 0.0

    def due(self) -> float:
        return self.next_at

    def take(self, seconds: float) -> bool:
        """Whether the frame at ``seconds`` is sampled (then the next tick is set)."""
        if not self.interval:
            return True
        if seconds + 1e-6 < self.next_at:
            return False
        # The next tick after this frame's; floored with a little slack, since 0.4 // 0.2
        # is 1.0 in floating point and would sample 0.4 s twice.
        self.next_at = (math.floor(seconds / self.interval + 1e-6) + 1) * self.interval
        return True


def _check_declared(
    container: av.container.InputContainer, stream: av.VideoStream, limits: VideoLimits
) -> None:
    """Refuse before decoding what the file itself says is too long or too large."""
    import av

    declared = None
    if stream.duration is not None and stream.time_base is not None:
        declared = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        declared = container.duration / av.time_base
    if declared is not None and declared > limits.max_seconds:
        raise MediaError(
            f"the video is {declared:.0f} s long; at most {limits.max_seconds:.0f} s "
            "(LYKTA_VIDEO_MAX_SECONDS)"
        )
    width, height = stream.codec_context.width, stream.codec_context.height
    if width * height > limits.max_pixels:
        raise MediaError(
            f"the video's frames are {width}x{height}; at most {limits.max_pixels} pixels "
            "(LYKTA_MAX_PIXELS)"
        )


class _Held:
    """What the file turns out to hold, packet by packet, whatever its header said: more
    frames or seconds than the limits is refused, decoded or not."""

    def __init__(self, limits: VideoLimits) -> None:
        self.limits = limits
        self.packets = 0

    def count(self, seconds: float | None) -> None:
        self.packets += 1
        if self.packets > self.limits.max_frames:
            raise MediaError(
                f"the video has more than {self.limits.max_frames} frames (LYKTA_VIDEO_MAX_FRAMES)"
            )
        if seconds is not None and seconds > self.limits.max_seconds:
            raise MediaError(
                f"the video runs past {self.limits.max_seconds:.0f} s (LYKTA_VIDEO_MAX_SECONDS)"
            )


def _check_frame(frame: av.VideoFrame, seconds: float, limits: VideoLimits) -> None:
    """Refuse a decoded frame past the limits, whatever the header said."""
    if seconds > limits.max_seconds:
        raise MediaError(
            f"the video runs past {limits.max_seconds:.0f} s (LYKTA_VIDEO_MAX_SECONDS)"
        )
    if frame.width * frame.height > limits.max_pixels:
        raise MediaError(
            f"a frame is {frame.width}x{frame.height}; at most {limits.max_pixels} pixels "
            "(LYKTA_MAX_PIXELS)"
        )


def _duration(container: av.container.InputContainer, stream: av.VideoStream, last: float) -> float:
    import av

    if stream.duration is not None and stream.time_base is not None:
        return round(float(stream.duration * stream.time_base), 3)
    if container.duration is not None:
        return round(container.duration / av.time_base, 3)
    return round(last, 3)


class _Digests:
    """The source as a file PyAV reads, hashing every byte read on the way, so a video of
    gigabytes is read once and never held in memory."""

    def __init__(self, source: str | Path | BinaryIO) -> None:
        self._owned = isinstance(source, str | Path)
        self._raw: BinaryIO = open(source, "rb") if isinstance(source, str | Path) else source  # noqa: SIM115
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha256 = hashlib.sha256()
        self._position = 0  # bytes hashed so far: a seek back re-reads without re-hashing
        self.file = self

    def read(self, size: int = -1) -> bytes:
        start = self._raw.tell()
        data = self._raw.read(size)
        end = start + len(data)
        if end > self._position and start <= self._position:
            fresh = data[self._position - start :]
            self._md5.update(fresh)
            self._sha256.update(fresh)
            self._position = end
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def seekable(self) -> bool:
        return self._raw.seekable()

    def hexdigests(self) -> tuple[str, str]:
        """The digests of the whole file; bytes the decoder skipped are read here."""
        self._raw.seek(self._position)
        while chunk := self._raw.read(1 << 20):
            self._md5.update(chunk)
            self._sha256.update(chunk)
            self._position += len(chunk)
        return self._md5.hexdigest(), self._sha256.hexdigest()

    def close(self) -> None:
        if self._owned:
            self._raw.close()
