"""Scheduled syncs for `lykta serve`: a daemon thread, never the event loop or a look-up,
that syncs each enabled exchange every LYKTA_EXCHANGE_INTERVAL seconds. Every replica runs
one; the exchange's lock row lets one of them sync at a time, and the others skip it."""

from __future__ import annotations

import logging
import threading
from datetime import UTC

from lykta.errors import Conflict, LyktaError
from lykta.exchanges.service import ExchangeService
from lykta.store.models import utcnow

log = logging.getLogger(__name__)


class ExchangeScheduler:
    def __init__(self, service: ExchangeService, interval: float) -> None:
        self._service = service
        self._interval = interval
        # Look for due exchanges often enough that a new one starts soon after it is added.
        self._tick = min(interval, 30.0)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="lykta-exchanges", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for result in self._service.sync_due(self._interval):
                    log.info(
                        "exchange sync of bank %s: %d added, %d updated, %d removed",
                        result.bank, result.added, result.updated, result.removed,
                    )  # fmt: skip
            except Exception:
                log.exception("scheduled exchange syncs failed; next try in %g s", self._tick)
            self._stop.wait(self._tick)


def sync_in_background(service: ExchangeService, bank: str) -> None:
    """Start a sync of ``bank`` in its own thread (the API's on-demand sync): a sync
    already running, or a bank without an exchange, is refused here, before the thread."""
    status = service.get(bank).status
    until = status.lock_until
    if until is not None and (until if until.tzinfo else until.replace(tzinfo=UTC)) > utcnow():
        raise Conflict(f"the exchange of bank {bank!r} is being synced by {status.lock_holder}")

    def run() -> None:
        try:
            service.sync(bank)
        except LyktaError as error:
            log.warning("sync of bank %s failed: %s", bank, error.message)

    threading.Thread(target=run, name=f"lykta-exchange-{bank}", daemon=True).start()
