"""PDQ of video frames: the frame as it is and, when it has bars, without them; and, when
asked, the local features (ORB keypoints) of a few key frames.

Letterboxed and pillarboxed re-uploads are the commonest edit of a traded video; bars move
PDQ far from the original's hash, so a frame with bars is hashed twice. A cropped, turned
or overlaid re-encode moves every frame's PDQ far; the key frames' local features are the
second path for it (see ``KeyFrame``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

import numpy as np
from PIL import Image

from lykta.errors import MediaError
from lykta.hashing.borders import content_box_of
from lykta.hashing.local_features import MIN_KEYPOINTS, features_of
from lykta.hashing.pdq import pdq_from_image, pdq_from_luma
from lykta.hashing.regions import find_photo_region
from lykta.index.local_features import LocalFeatures
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
class FrameRegion:
    """The photo a frame shows inside a larger picture (a phone's screen filmed or
    recorded, a frame within the frame): its PDQ and its keypoints."""

    pdq: str
    quality: int
    features: LocalFeatures


@dataclass(frozen=True, slots=True)
class KeyFrame:
    """A sampled frame whose local features were taken: its time, its PDQ (to drop a key
    frame that repeats the last one), its keypoints and, for a look-up, the photo region
    it shows (``find_photo_region``), if any."""

    seconds: float
    pdq: str
    features: LocalFeatures
    region: FrameRegion | None = None


def frame_region(image: Image.Image) -> FrameRegion | None:
    """The ``FrameRegion`` of a frame (or photo), or None when it shows no photo inside."""
    box = find_photo_region(image)
    if box is None:
        return None
    region = image.crop(box)
    pdq, quality = pdq_from_image(region)
    return FrameRegion(pdq, quality, features_of(region))


@dataclass(frozen=True, slots=True)
class VideoHashes:
    """Hashes of one video file: its digests, its length, its sampled frames and (when
    asked for) the local features of its key frames."""

    md5: str
    sha256: str
    duration: float | None
    frames: tuple[SampledFrame, ...]
    key_frames: tuple[KeyFrame, ...] = ()


#: Key frames are at least this many seconds apart; a longer video's are spread over all
#: of it (see ``_KeyFrames``).
KEY_FRAME_SECONDS = 2.0
# Frames tried per key-frame slot before it is left empty (a black or blurred stretch):
# a plain frame costs an ORB extraction (about 10 ms) and gives nothing.
_KEY_FRAME_TRIES = 3


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
    decoders: int | None = None,
    key_frames: int = 0,
    regions: bool = False,
) -> VideoHashes:
    """Hash a video file: a frame every ``interval`` seconds (every frame when None or 0),
    and the MD5 and SHA-256 of the file's bytes.

    With ``key_frames``, the local features of at most that many sampled frames as well,
    spread over the video, at least ``KEY_FRAME_SECONDS`` apart, each with at least
    ``MIN_KEYPOINTS`` keypoints (a frame too plain is passed over for the next one); with
    ``dedupe``, a key frame within that PDQ distance of the one before is dropped too.
    With ``regions`` (for a look-up), each key frame's ``FrameRegion`` as well.

    With ``dedupe`` a sampled frame whose PDQ is within that distance of the last frame kept
    is dropped, so a still scene costs one hash; a frame whose quality is below
    ``min_quality`` is dropped too. Raises ``MediaError`` when the file cannot be decoded or
    is past ``limits``.

    Decoding is nearly all the work, and one H.264 decoder keeps one core busy (sampled
    decoding feeds it in bursts, which frame threads turn into waits). So a long video in a
    seekable file is cut into stretches, one decoder each (``decoders``, by default one per
    CPU up to ``MAX_DECODERS``), each starting from the key frame before its first tick: the
    frames sampled are the ones a single decoder samples. Meanwhile this thread hashes the
    frames as they come.
    """
    every = interval or 0.0
    shared = _SharedSource(source)
    try:
        plan = _plan(shared, every, limits, decoders)
        samples: queue.Queue[_Item] = queue.Queue(maxsize=_SAMPLES_AHEAD)
        stop = threading.Event()
        jobs: list[Callable[[], _Item]] = [
            partial(_read_stretch, shared, stretch, plan, every, limits, samples, stop)
            for stretch in plan.stretches
        ]
        if plan.digests_apart:
            jobs.append(partial(_digest_whole, shared.cursor()))
        workers = [
            threading.Thread(
                target=_run, args=(job, samples, stop), name="lykta-video-reader", daemon=True
            )
            for job in jobs
        ]
        for worker in workers:
            worker.start()
        hashed: list[SampledFrame] = []
        keys = _KeyFrames(key_frames, regions=regions)
        finished: list[_Finished] = []
        digests: _Digested | None = None
        try:
            while len(finished) < len(plan.stretches) or digests is None:
                item = samples.get()
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item, _Finished):
                    finished.append(item)
                    digests = item.digests or digests
                elif isinstance(item, _Digested):
                    digests = item
                else:
                    seconds, luma = item
                    variants = hash_luma(luma, trim=trim, mirror=mirror)
                    hashed.append(SampledFrame(seconds, variants))
                    if key_frames:
                        keys.offer(seconds, luma, variants[0].pdq)
        finally:
            stop.set()
            for worker in workers:
                while worker.is_alive():  # let a reader blocked on a full queue see the stop
                    with contextlib.suppress(queue.Empty):
                        samples.get(timeout=0.05)
    finally:
        shared.close()
    if not sum(done.decoded for done in finished):
        raise MediaError("the video has no frames")
    duration = max(done.duration for done in finished)
    return VideoHashes(
        digests.md5,
        digests.sha256,
        duration,
        _kept(hashed, dedupe=dedupe, min_quality=min_quality),
        keys.chosen(dedupe),
    )


def _bits_apart(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


class _KeyFrames:
    """The key frames of one video, chosen as its frames arrive (out of time order when
    several decoders read it): the first frame with enough keypoints in each slot of
    ``spacing`` seconds. When twice ``most`` slots are filled the spacing doubles and
    each new slot keeps its earliest, so a video of any length (its length unknown ahead
    when it is piped) costs a bounded number of extractions."""

    def __init__(self, most: int, *, regions: bool = False) -> None:
        self.most = most
        self.regions = regions
        self.spacing = KEY_FRAME_SECONDS
        self.taken: dict[int, KeyFrame] = {}
        self.tries: dict[int, int] = {}

    def _slot(self, seconds: float) -> int:
        return math.floor(seconds / self.spacing + 1e-6)

    def offer(self, seconds: float, luma: np.ndarray, pdq: str) -> None:
        slot = self._slot(seconds)
        if slot in self.taken or self.tries.get(slot, 0) >= _KEY_FRAME_TRIES:
            return
        self.tries[slot] = self.tries.get(slot, 0) + 1
        image = Image.fromarray(luma, "L")
        features = features_of(image)
        if len(features) < MIN_KEYPOINTS:
            return
        # A later frame of the slot may come first from another decoder: the earliest wins.
        held = self.taken.get(slot)
        if held is None or seconds < held.seconds:
            region = frame_region(image) if self.regions else None
            self.taken[slot] = KeyFrame(seconds, pdq, features, region)
        if len(self.taken) >= 2 * self.most:
            self.spacing *= 2
            self.tries.clear()
            regrouped: dict[int, KeyFrame] = {}
            for key in sorted(self.taken.values(), key=lambda key: key.seconds):
                regrouped.setdefault(self._slot(key.seconds), key)
            self.taken = regrouped

    def chosen(self, dedupe: int | None) -> tuple[KeyFrame, ...]:
        """The key frames in time order, without repeats (with ``dedupe``), thinned evenly
        to ``most``."""
        kept: list[KeyFrame] = []
        for key in sorted(self.taken.values(), key=lambda key: key.seconds):
            repeated = dedupe is not None and kept and _bits_apart(key.pdq, kept[-1].pdq) <= dedupe
            if not repeated:
                kept.append(key)
        if len(kept) > self.most:
            picks = np.unique(np.linspace(0, len(kept) - 1, self.most).round().astype(int))
            kept = [kept[pick] for pick in picks.tolist()]
        return tuple(kept)


def _kept(
    frames: list[SampledFrame], *, dedupe: int | None, min_quality: int
) -> tuple[SampledFrame, ...]:
    """The sampled frames in time order, without the ones below the quality floor and,
    with ``dedupe``, those within that distance of the last one kept."""
    kept: list[SampledFrame] = []
    last: int | None = None  # the last kept frame's PDQ, as an integer
    for frame in sorted(frames, key=lambda frame: frame.seconds):
        if kept and frame.seconds == kept[-1].seconds:
            continue  # a frame past a stretch's end that the next stretch took too
        if frame.quality < min_quality:
            continue
        code = int(frame.pdq, 16)
        if dedupe is not None and last is not None and (code ^ last).bit_count() <= dedupe:
            continue
        last = code
        kept.append(frame)
    return tuple(kept)


# Sampled frames decoded ahead of the hashing: enough to keep every thread busy, few enough
# that 1080p planes (2 MB each) stay cheap.
_SAMPLES_AHEAD = 8

# Decoders one video may use at once, and the shortest stretch worth a decoder of its own
# (each starts at a key frame up to a GOP before its stretch, decoding that GOP twice).
MAX_DECODERS = 4
MIN_STRETCH_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class _Stretch:
    """Ticks from ``start`` (inclusive) to ``end`` (exclusive) seconds: one decoder's share."""

    start: float
    end: float


@dataclass(frozen=True, slots=True)
class _Digested:
    md5: str
    sha256: str


@dataclass(frozen=True, slots=True)
class _Finished:
    """A stretch's last word: frames decoded, the video's length (as declared, else to the
    stretch's last frame) and, from a reader that read the whole file, its digests."""

    decoded: int
    duration: float
    digests: _Digested | None = None


_Item = tuple[float, np.ndarray] | _Finished | _Digested | BaseException


@dataclass(frozen=True, slots=True)
class _Plan:
    stretches: list[_Stretch]
    held: _Held
    digests_apart: bool  # digests read by a thread of their own, not while decoding
    # Threads a decoder may use: FFmpeg's choice (0) for a lone decoder; an equal share of
    # the CPUs for side-by-side ones, which already fill them.
    decoder_threads: int = 0


def _plan(
    shared: _SharedSource, interval: float, limits: VideoLimits, decoders: int | None
) -> _Plan:
    """One stretch for the whole video, or several for a long one in a seekable file."""
    held = _Held(limits)
    whole = [_Stretch(0.0, math.inf)]
    if not shared.seekable:
        return _Plan(whole, held, digests_apart=False)
    import av  # here, not at the top: the core imports this module, most runs never decode

    try:
        with av.open(shared.cursor(), mode="r") as container:
            if not container.streams.video:
                raise MediaError("the file has no video stream")
            stream = container.streams.video[0]
            declared = _check_declared(container, stream, limits)
    except av.FFmpegError as error:
        raise MediaError(f"cannot decode the video: {error}") from error
    cpus = _cpus()
    wanted = decoders if decoders is not None else min(cpus, MAX_DECODERS)
    if declared is None:
        return _Plan(whole, held, digests_apart=False)
    count = max(1, min(wanted, int(declared // MIN_STRETCH_SECONDS)))
    if count == 1:
        return _Plan(whole, held, digests_apart=False)
    step = declared / count
    if interval:  # stretches start on ticks
        step = math.ceil(step / interval - 1e-6) * interval
    starts = [index * step for index in range(count) if index * step < declared]
    stretches = [
        _Stretch(start, starts[index + 1] if index + 1 < len(starts) else math.inf)
        for index, start in enumerate(starts)
    ]
    threads = max(1, cpus // len(stretches))
    return _Plan(stretches, held, digests_apart=True, decoder_threads=threads)


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _run(job: Callable[[], _Item], out: queue.Queue[_Item], stop: threading.Event) -> None:
    """Run a reader's job, handing its last word (or its error) to the hashing thread."""
    import av

    try:
        result = job()
    except av.FFmpegError as error:
        result = MediaError(f"cannot decode the video: {error}")
    except BaseException as error:  # handed to the caller's thread, raised there
        result = error
    _put(out, result, stop)


def _put(out: queue.Queue[_Item], item: _Item, stop: threading.Event) -> bool:
    while not stop.is_set():
        with contextlib.suppress(queue.Full):
            out.put(item, timeout=0.05)
            return True
    return False


def _read_stretch(
    shared: _SharedSource,
    stretch: _Stretch,
    plan: _Plan,
    interval: float,
    limits: VideoLimits,
    out: queue.Queue[_Item],
    stop: threading.Event,
) -> _Item:
    """Decode the frames sampled in ``stretch`` into ``out`` as (seconds, luma); return how
    many frames were decoded. A reader of the whole file also returns its digests, hashed
    on the way."""
    import av

    whole = stretch.start == 0.0 and stretch.end == math.inf
    file = _Digests(shared.cursor()) if whole else shared.cursor()
    with av.open(file, mode="r") as container:
        if not container.streams.video:
            raise MediaError("the file has no video stream")
        stream = container.streams.video[0]
        # Slice threads, not frame threads: a sampled decode feeds the decoder in bursts
        # (held-back packets, then a key frame), which frame threads turn into waits;
        # measured on 1080p and 360p H.264, slices took 1.86 s and 0.37 s of wall time
        # where frame threads took 2.67 s and 0.52 s, for less CPU.
        stream.thread_type = "SLICE"
        stream.codec_context.thread_count = plan.decoder_threads
        _check_declared(container, stream, limits)
        if stretch.start > 0 and stream.time_base is not None:
            container.seek(int(stretch.start / stream.time_base), stream=stream, backward=True)
        ticks = _Ticks(interval, stretch.start)
        last = 0.0
        decoded = 0
        # Check samples (a second apart) may fall a frame later than the tick; bank
        # samples (denser) stay on it.
        sparse = ticks.interval >= SPARSE_INTERVAL
        for frame in decode_for_sampling(
            container, stream, ticks.due, skip_unreferenced=sparse, on_packet=plan.held.count
        ):
            seconds = float(frame.time) if frame.time is not None else last
            if seconds >= stretch.end:
                break
            decoded += 1
            last = seconds
            _check_frame(frame, seconds, limits)
            if seconds + 1e-6 < stretch.start or not ticks.take(seconds):
                continue  # not sampled: no scaling, no hashing
            if not _put(out, (round(seconds, 3), frame_luma(frame)), stop):
                break
        duration = _duration(container, stream, last)
    if isinstance(file, _Digests):
        return _Finished(decoded, duration, _Digested(*file.hexdigests()))
    return _Finished(decoded, duration)


def _digest_whole(file: BinaryIO) -> _Digested:
    """The MD5 and SHA-256 of every byte of ``file`` (hashlib lets go of the GIL on large
    chunks, so this runs beside the decoders)."""
    md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    file.seek(0)
    while chunk := file.read(1 << 20):
        md5.update(chunk)
        sha256.update(chunk)
    return _Digested(md5.hexdigest(), sha256.hexdigest())


class _Ticks:
    """When the next sample is due: every ``interval`` seconds (every frame when 0)."""

    def __init__(self, interval: float, start: float = 0.0) -> None:
        self.interval = interval
        self.next_at = start

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
) -> float | None:
    """Refuse before decoding what the file itself says is too long or too large; the
    length it declares, if any."""
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
    return declared


class _Held:
    """What the file turns out to hold, packet by packet, whatever its header said: more
    frames or seconds than the limits is refused, decoded or not."""

    def __init__(self, limits: VideoLimits) -> None:
        self.limits = limits
        self.packets = 0
        self._lock = threading.Lock()  # shared by a video's decoders

    def count(self, seconds: float | None) -> None:
        with self._lock:
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


class _SharedSource:
    """The source, opened once and read through cursors of their own, one a thread: each
    decoder seeks where it needs to."""

    def __init__(self, source: str | Path | BinaryIO) -> None:
        self._owned = isinstance(source, str | Path)
        self.raw: BinaryIO = open(source, "rb") if isinstance(source, str | Path) else source  # noqa: SIM115
        self.seekable = self.raw.seekable()
        self.lock = threading.Lock()

    def cursor(self) -> BinaryIO:
        """A reader of the source with a position of its own (the source itself, for a
        source that cannot seek: then only one thread reads it)."""
        return cast(BinaryIO, _Cursor(self)) if self.seekable else self.raw

    def close(self) -> None:
        if self._owned:
            self.raw.close()


class _Cursor:
    """One thread's position in a shared, seekable source."""

    def __init__(self, source: _SharedSource) -> None:
        self._source = source
        self._position = 0

    def read(self, size: int = -1) -> bytes:
        with self._source.lock:
            self._source.raw.seek(self._position)
            data = self._source.raw.read(size)
        self._position += len(data)
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self._position
        elif whence == io.SEEK_END:
            with self._source.lock:
                offset += self._source.raw.seek(0, io.SEEK_END)
        self._position = max(0, offset)
        return self._position

    def tell(self) -> int:
        return self._position

    def seekable(self) -> bool:
        return True


class _Digests:
    """A file PyAV reads, hashing every byte read on the way, so a video of gigabytes is
    read once and never held in memory."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha256 = hashlib.sha256()
        self._position = 0  # bytes hashed so far: a seek back re-reads without re-hashing

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
