"""The streams one process watches: add, remove, list, status; alerts and webhooks.

`lykta watch`, `lykta serve` (the API) and, later, a worker taking assignments from a queue
all drive this one class. Each stream runs on its own watcher thread; matches pass through
one dispatcher thread that records the alert, then tells the listeners and the webhook.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping
from contextlib import suppress
from typing import Any

from lykta.alerts import AlertRepository, NewAlert
from lykta.errors import Conflict, InvalidInput, NotFound
from lykta.settings import STREAM_SECOND_PATH_INTERVAL
from lykta.streams.base import (
    FINAL_STATES,
    FrameLookup,
    StreamMatch,
    StreamSpec,
    StreamStatus,
)
from lykta.streams.source import check_source, check_text
from lykta.streams.watcher import StreamWatcher
from lykta.streams.webhook import WebhookSender, check_webhook

log = logging.getLogger(__name__)

MatchListener = Callable[[dict[str, Any]], None]
StateListener = Callable[[StreamStatus], None]


class StreamSupervisor:
    def __init__(
        self,
        lookup: FrameLookup,
        *,
        alerts: AlertRepository | None = None,
        webhook_secret: str = "",
        second_path_interval: float = STREAM_SECOND_PATH_INTERVAL,
    ) -> None:
        self._lookup = lookup
        self._second_path_interval = second_path_interval
        self._alerts = alerts
        self._webhooks = WebhookSender(webhook_secret)
        self._watchers: dict[str, StreamWatcher] = {}
        self._lock = threading.Lock()
        self._match_listeners: list[MatchListener] = []
        self._state_listeners: list[StateListener] = []
        self._matches: queue.Queue[tuple[StreamSpec, StreamMatch] | None] = queue.Queue()
        self._dispatcher = threading.Thread(
            target=self._dispatch, name="lykta-stream-alerts", daemon=True
        )
        self._dispatcher.start()
        self._closed = False

    def on_match(self, listener: MatchListener) -> None:
        """Call `listener` with each match event (the webhook body), after it is recorded."""
        self._match_listeners.append(listener)

    def on_state(self, listener: StateListener) -> None:
        """Call `listener` with a stream's status when its state or last error changes."""
        self._state_listeners.append(listener)

    # --- streams -----------------------------------------------------------------------

    def add(self, spec: StreamSpec) -> StreamStatus:
        """Start watching; the id must not be one being watched (an ended one is
        replaced). Bad input (source, banks, interval) is refused before anything starts."""
        validate_spec(spec, self._lookup)
        with self._lock:
            if self._closed:
                raise Conflict("the stream supervisor is shut down")
            old = self._watchers.get(spec.stream_id)
            if old is not None and old.status().state not in FINAL_STATES:
                raise Conflict(f"stream {spec.stream_id!r} is already being watched")
            watcher = StreamWatcher(
                spec,
                self._lookup,
                lambda found: self._matches.put((spec, found)),
                self._state_changed,
                second_path_interval=self._second_path_interval,
            )
            self._watchers[spec.stream_id] = watcher
        watcher.start()
        return watcher.status()

    def remove(self, stream_id: str) -> StreamStatus:
        """Stop watching a stream and forget it; its last status is returned."""
        with self._lock:
            watcher = self._watchers.pop(stream_id, None)
        if watcher is None:
            raise NotFound(f"no stream {stream_id!r}")
        watcher.stop()
        return watcher.status()

    def get(self, stream_id: str) -> StreamStatus:
        with self._lock:
            watcher = self._watchers.get(stream_id)
        if watcher is None:
            raise NotFound(f"no stream {stream_id!r}")
        return watcher.status()

    def list(self) -> list[StreamStatus]:
        with self._lock:
            watchers = list(self._watchers.values())
        return [watcher.status() for watcher in watchers]

    # --- as a worker's runner (`lykta.workers.worker.StreamRunner`): specs as JSON -------

    def start(self, spec: Mapping[str, Any]) -> None:
        """Start watching a spec given as JSON (`StreamSpec.to_json`)."""
        self.add(StreamSpec.from_json(spec))

    def stop(self, stream_id: str) -> None:
        """Stop watching, if watched."""
        with suppress(NotFound):
            self.remove(stream_id)

    def status(self, stream_id: str) -> dict[str, Any] | None:
        """The stream's status as JSON, or None when it is not watched here."""
        try:
            return self.get(stream_id).as_json()
        except NotFound:
            return None

    def running(self) -> bool:
        """Whether any stream is still being watched (not ended, failed or stopped)."""
        return any(status.state not in FINAL_STATES for status in self.list())

    def close(self) -> None:
        """Stop every watcher, record the matches already found, send their webhooks."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            watchers = list(self._watchers.values())
        for watcher in watchers:
            watcher.stop(wait=0)
        for watcher in watchers:
            watcher.stop()
        self._matches.put(None)
        self._dispatcher.join()
        self._webhooks.close()

    # --- matches -----------------------------------------------------------------------

    def _state_changed(self, status: StreamStatus) -> None:
        for listener in self._state_listeners:
            listener(status)

    def _dispatch(self) -> None:
        while (item := self._matches.get()) is not None:
            self._deliver(*item)

    def _deliver(self, spec: StreamSpec, found: StreamMatch) -> None:
        event = found.event(self._record(found))
        if spec.webhook:
            self._webhooks.send(spec.webhook, event)
        for listener in self._match_listeners:
            try:
                listener(event)
            except Exception:
                log.exception("a match listener failed")

    def _record(self, found: StreamMatch) -> int | None:
        """The alert's id; None when it could not be written (the webhook still goes: the
        platform must hear of the match even while the database is down)."""
        if self._alerts is None:
            return None
        match = found.match
        try:
            return self._alerts.record(
                NewAlert(
                    source_kind="stream",
                    source_id=found.stream,
                    source_uri=found.source,
                    offset_s=found.offset_s,
                    bank=match.bank,
                    content_id=match.content_id,
                    external_id=match.external_id,
                    labels=match.labels,
                    kind=match.kind,
                    distance=match.distance,
                    transform=match.transform,
                    subject=found.subject,
                    viewers=found.viewers,
                    query_hash=match.query_hash,
                )
            ).id
        except Exception:
            log.exception("stream %s: the alert could not be recorded", found.stream)
            return None


def validate_spec(spec: StreamSpec, lookup: FrameLookup) -> None:
    """Refuse bad input (source, texts, webhook, timings, unknown banks) before anything
    starts, wherever the stream is to be watched."""
    check_source(spec.source, allow_local=spec.allow_local)
    for name, text in [
        ("id", spec.id), ("subject", spec.subject or ""),
        *(("viewer", viewer) for viewer in spec.viewers),
    ]:  # fmt: skip
        check_text(name, text)
    if spec.webhook is not None:
        check_webhook(spec.webhook)
    if spec.interval <= 0:
        raise InvalidInput("the sampling interval must be more than 0 seconds")
    if spec.wait < 0 or spec.episode_gap < 0 or spec.read_timeout <= 0:
        raise InvalidInput(
            "the wait and episode gap must be 0 or more, the read timeout more than 0"
        )
    if spec.banks is not None:
        lookup((), banks=spec.banks)  # an unknown bank is NotFound
