"""One stream's watcher: a thread that connects, reads, samples, hashes and looks up.

Each stream has its own thread, so a slow or stuck source holds up only itself; decoding,
hashing and look-ups never run on an event loop. Matches go to the supervisor's callback,
which records and delivers them on threads of its own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from lykta.errors import LyktaError
from lykta.hashing.video import SPARSE_INTERVAL, hash_luma
from lykta.media.video import frame_luma
from lykta.streams.base import (
    FINAL_STATES,
    FrameLookup,
    StreamMatch,
    StreamSpec,
    StreamState,
    StreamStatus,
)
from lykta.streams.source import OpenSource, SourceError, is_local, open_source

if TYPE_CHECKING:
    import av

log = logging.getLogger(__name__)

# While a source has not started (within the spec's wait) it is tried this often.
WAIT_RETRY_SECONDS = 1.0
# Backoff between reconnections after a drop or a wait that ran out: doubling, capped.
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0
# A connection that delivered frames this long resets the backoff.
HEALTHY_SECONDS = 10.0
# A jump of the stream clock by more than this (a wrapped or reset timestamp) is a
# discontinuity: the stream position carries on from where it was.
CLOCK_JUMP_SECONDS = 10.0
# Frame times are rounded to their time base: a frame this close to a sample time is on it.
SAMPLE_TOLERANCE_SECONDS = 0.001


class StreamWatcher:
    def __init__(
        self,
        spec: StreamSpec,
        lookup: FrameLookup,
        on_match: Callable[[StreamMatch], None],
        on_state: Callable[[StreamStatus], None] | None = None,
        *,
        second_path_interval: float = 0.0,
    ) -> None:
        self.spec = spec
        # ORB and a verified look-up cost about 50 ms a frame: one frame every this many
        # seconds of stream at most goes on to the second path (0: none), so many streams
        # on one machine keep up.
        self._second_path_interval = second_path_interval
        self._next_second_path = 0.0
        self._lookup = lookup
        self._on_match = on_match
        self._on_state = on_state
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._status = StreamStatus(
            id=spec.stream_id,
            source=spec.source,
            subject=spec.subject,
            viewers=spec.viewers,
            banks=spec.banks,
            started_at=datetime.now(UTC),
        )
        self._paced = is_local(spec.source)
        # Per bank item (bank, content id): the stream position of its last match.
        self._last_seen: dict[tuple[str, int], float] = {}
        self._thread = threading.Thread(
            target=self._run, name=f"lykta-stream {spec.stream_id}", daemon=True
        )

    # --- control ---------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, wait: float = 2.0) -> None:
        """Ask the thread to stop; a read in progress ends within the read timeout."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(wait)
        with self._lock:
            stopping = self._status.state not in FINAL_STATES
            if stopping:
                self._status.state = StreamState.STOPPED
        if stopping:
            self._announce()

    def status(self) -> StreamStatus:
        with self._lock:
            return replace(self._status)

    def _set(self, **changes: object) -> None:
        with self._lock:
            for name, value in changes.items():
                setattr(self._status, name, value)
        if "state" in changes or "last_error" in changes:
            self._announce()

    def _announce(self) -> None:
        if self._on_state is not None:
            try:
                self._on_state(self.status())
            except Exception:
                log.exception("a stream state listener failed")

    # --- the thread ------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._watch()
        except Exception as error:  # a bug must not pass silently, nor kill the others
            log.exception("stream %s: watcher failed", self.spec.stream_id)
            self._set(state=StreamState.FAILED, last_error=f"internal error: {error}")

    def _watch(self) -> None:
        waiting_since = time.monotonic()
        ever_connected = False
        backoff = BACKOFF_FIRST_SECONDS
        position = 0.0  # stream seconds read so far, across connections
        while not self._stop.is_set():
            waiting = not ever_connected and time.monotonic() - waiting_since < self.spec.wait
            self._set(state=StreamState.WAITING if waiting else StreamState.RECONNECTING)
            try:
                opened = open_source(
                    self.spec.source,
                    open_timeout=self.spec.read_timeout,
                    read_timeout=self.spec.read_timeout,
                    allow_local=self.spec.allow_local,
                )
            except SourceError as error:
                if self._paced:  # a file or pipe will not start later
                    self._set(state=StreamState.FAILED, last_error=str(error))
                    return
                self._set(last_error=str(error))
                if waiting:
                    self._stop.wait(WAIT_RETRY_SECONDS)
                else:
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)
                continue
            if ever_connected:
                with self._lock:
                    self._status.reconnects += 1
            ever_connected = True
            connected_at = time.monotonic()
            try:
                position, ended = self._read(opened, position)
            finally:
                opened.close()
            if self._paced:  # a file or pipe is read once; an error part-way fails it
                if not self._stop.is_set():
                    self._set(state=StreamState.ENDED if ended else StreamState.FAILED)
                return
            if time.monotonic() - connected_at >= HEALTHY_SECONDS:
                backoff = BACKOFF_FIRST_SECONDS
            if not self._stop.is_set():
                self._set(state=StreamState.RECONNECTING)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)

    def _read(self, opened: OpenSource, position: float) -> tuple[float, bool]:
        """Read one connection until it ends, drops or is stopped. Returns the stream
        position reached and whether the source ended (rather than failed)."""
        first_time: float | None = None
        first_wall = 0.0
        base = position  # the position of this connection's first frame
        last_time: float | None = None
        next_sample = position

        def due() -> float:
            # The next sample in the stream's own time: packets before it may go undecoded.
            if first_time is None:
                return float("-inf")  # the first frame sets the clock: decode it
            return next_sample - base + first_time - SAMPLE_TOLERANCE_SECONDS

        def packet(seconds: float | None) -> None:
            # Lag is taken as packets arrive, not as frames decode: frames held back for a
            # sample decode late by design, yet the stream is being read on time.
            lag = None
            if first_time is not None and seconds is not None:
                lag = max(0.0, (time.monotonic() - first_wall) - (seconds - first_time))
            with self._lock:
                self._status.frames_read += 1
                if lag is not None:
                    self._status.lag_s = lag

        def undecodable() -> None:
            with self._lock:
                self._status.decode_errors += 1

        import av  # here, not at the top: the core imports this module, few runs watch

        try:
            for seconds, frame in opened.frames(
                due,
                skip_unreferenced=self.spec.interval >= SPARSE_INTERVAL,
                on_packet=packet,
                on_undecodable=undecodable,
            ):
                if self._stop.is_set():
                    return position, False
                now = time.monotonic()
                if seconds is None:  # no timestamps: count frames at the stream's rate
                    rate = float(opened.stream.average_rate or 25)
                    seconds = (last_time + 1 / rate) if last_time is not None else 0.0
                if first_time is None:
                    first_time, first_wall = seconds, now
                    self._set(state=StreamState.WATCHING, last_error=None)
                elif last_time is not None and abs(seconds - last_time) > CLOCK_JUMP_SECONDS:
                    # A reset clock: carry on from the position reached.
                    base, first_time, first_wall = position, seconds, now
                last_time = seconds
                elapsed = seconds - first_time
                if self._paced:
                    # Files and pipes are read at their real rate, as a live stream arrives.
                    delay = first_wall + elapsed - now
                    if delay > 0 and self._stop.wait(delay):
                        return position, False
                position = base + max(0.0, elapsed)
                with self._lock:
                    self._status.position_s = position
                    self._status.last_frame_at = datetime.now(UTC)
                if position + SAMPLE_TOLERANCE_SECONDS >= next_sample:
                    # On the grid of interval steps (no drift), unless the stream jumped.
                    next_sample += self.spec.interval
                    if next_sample <= position:
                        next_sample = position + self.spec.interval
                    self._sample(frame, position)
        except av.error.DecoderNotFoundError as error:
            self._set(last_error=f"unsupported: {error}")
            return position, False
        except (av.error.FFmpegError, OSError) as error:
            self._set(last_error=f"dropped: {error}")
            return position, False
        return position, True

    def _second_path_due(self, position: float) -> bool:
        """Whether the frame at ``position`` may go on to the second path; if so, the next
        one may ``second_path_interval`` seconds later."""
        if self._second_path_interval <= 0:
            return False
        if position + SAMPLE_TOLERANCE_SECONDS < self._next_second_path:
            return False
        self._next_second_path = position + self._second_path_interval
        return True

    def _sample(self, frame: av.VideoFrame, position: float) -> None:
        import av

        with self._lock:
            self._status.sampled += 1
        try:
            luma = frame_luma(frame)
            variants = hash_luma(luma, trim=self.spec.trim)
        except (av.error.FFmpegError, ValueError) as error:  # a frame swscale cannot convert
            with self._lock:
                self._status.decode_errors += 1
            self._set(last_error=f"frame not hashed: {error}")
            return
        with self._lock:
            self._status.hashed += 1
        second = self._second_path_due(position)
        if second:
            with self._lock:
                self._status.second_path += 1
        try:
            found = self._lookup(variants, banks=self.spec.banks, luma=luma if second else None)
        except LyktaError as error:  # a bank deleted while watched
            self._set(last_error=error.message)
            return
        except Exception as error:  # the database is down: keep watching, say so
            log.warning("stream %s: look-up failed: %s", self.spec.stream_id, error)
            self._set(last_error=f"look-up failed: {type(error).__name__}")
            return
        now = datetime.now(UTC)
        for match in found.matches:
            if match.negative:  # negative banks only ever suppress
                continue
            key = (match.bank, match.content_id)
            last = self._last_seen.get(key)
            self._last_seen[key] = position
            if last is not None and position - last <= self.spec.episode_gap:
                continue
            with self._lock:
                self._status.matches += 1
            self._on_match(
                StreamMatch(
                    stream=self.spec.stream_id,
                    source=self.spec.source,
                    offset_s=position,
                    match=match,
                    subject=self.spec.subject,
                    viewers=self.spec.viewers,
                    time=now,
                )
            )
