"""`/metrics` in Prometheus' text format: requests and their latency by route, look-ups and
matches, index size and revision, change-log lag.

The counting happens on every request, so it is plain arithmetic on per-thread counters
(`lykta.stats.Tally`): no lock, no allocation beyond a tuple key. prometheus_client only
renders the counts when a scrape asks (a custom collector), because its own Counter and
Histogram take a lock on every update, which the look-up path must not. It is used rather
than a hand-written renderer for the exposition format's escaping and for content
negotiation (Prometheus text or OpenMetrics, as the scraper asks).

Every worker process counts its own requests; with several, they share their counts through
files (`WorkerCounts`), off the request path.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import uuid
from bisect import bisect_left
from collections.abc import Hashable, Iterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector, CollectorRegistry
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lykta import __version__
from lykta.api.deps import MetricsReader
from lykta.api.schemas import errors
from lykta.app import Lykta
from lykta.stats import Tally

log = logging.getLogger(__name__)

# Seconds. Look-ups by hash answer in well under a millisecond; photo uploads in tens.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Paths answered before routing (api/hot.py), so they have no route to be labelled by.
UNROUTED = frozenset({"/api/v1/lookup", "/m/raw_lookup"})
OTHER = "other"  # a path no route matched: unbounded values must not become labels
STATUS_CLASSES = ("0xx", "1xx", "2xx", "3xx", "4xx", "5xx")  # by status // 100, built once

router = APIRouter(tags=["status"])


class RequestMetrics:
    """ASGI middleware (outermost) counting each request by route and status class, and
    its latency by route."""

    def __init__(self, app: ASGIApp, tally: Tally) -> None:
        self.app = app
        self.tally = tally

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            path = getattr(route, "path", None) or (
                scope["path"] if scope["path"] in UNROUTED else OTHER
            )
            tally = self.tally
            tally.add(("requests", path, STATUS_CLASSES[min(status // 100, 5)]))
            tally.add(("bucket", path, bisect_left(BUCKETS, elapsed)))
            tally.add(("seconds", path), elapsed)


Counts = dict[Hashable, float]


def own_counts(core: Lykta, requests: Tally) -> Counts:
    """This process's counts: the core's look-ups (string keys) and its HTTP requests
    (tuple keys)."""
    return {**core.stats.totals(), **requests.totals()}


class WorkerCounts:
    """With several worker processes, a scrape reaches one of them; so each writes its
    counts to `<home>/metrics/<pid>-<random>.json` every PUBLISH_SECONDS, and the one scraped sums
    them all with its own live counts. Files of workers that have ended stay (counters
    never go down); `lykta serve` clears the folder when it starts."""

    PUBLISH_SECONDS = 1.0

    def __init__(self, folder: Path, core: Lykta, requests: Tally) -> None:
        self.folder = folder
        self.core = core
        self.requests = requests
        # One file per app (a worker process holds one), named apart from any other's.
        self.own = folder / f"{os.getpid()}-{uuid.uuid4().hex[:12]}.json"

    def publish(self) -> None:
        counts = own_counts(self.core, self.requests)
        rows = [
            [list(key) if isinstance(key, tuple) else key, value] for key, value in counts.items()
        ]
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = self.own.with_suffix(".partial")
        partial.write_text(json.dumps(rows))
        partial.replace(self.own)  # readers never see half a file

    def totals(self) -> Counts:
        total = own_counts(self.core, self.requests)
        for path in self.folder.glob("*.json"):
            if path == self.own:
                continue
            try:
                rows = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # removed meanwhile; never half-written
            for key, value in rows:
                name = tuple(key) if isinstance(key, list) else key
                total[name] = total.get(name, 0) + value
        return total

    async def keep_publishing(self) -> None:
        while True:
            try:
                await run_in_threadpool(self.publish)
            except OSError:
                log.warning("could not write this worker's metrics to %s", self.folder)
            await asyncio.sleep(self.PUBLISH_SECONDS)


class LyktaCollector(Collector):
    """Renders the counts of this process (or every worker's) and the core's gauges."""

    def __init__(self, core: Lykta, counts: Counts, lag: int | None) -> None:
        self.core = core
        self.counts = counts
        self.lag = lag

    def collect(self) -> Iterator[Any]:
        info = GaugeMetricFamily("lykta_info", "Lykta's version", labels=["version"])
        info.add_metric([__version__], 1)
        yield info
        counts = self.counts
        for key, help_text in (
            ("lookups", "look-ups answered (each photo, hash, frame or video is one)"),
            ("matched", "look-ups that found at least one match"),
            ("matches", "matches returned"),
            ("suppressed", "look-ups whose matches a negative bank suppressed"),
        ):
            yield CounterMetricFamily(f"lykta_{key}", help_text, value=counts.get(key, 0))
        size = GaugeMetricFamily("lykta_index_hashes", "hashes in the index", labels=["kind"])
        for kind, count in self.core.matcher.size().items():
            size.add_metric([kind], count)
        yield size
        yield GaugeMetricFamily(
            "lykta_index_revision",
            "change-log revision the index has applied",
            value=self.core.matcher.revision,
        )
        if self.lag is not None:
            yield GaugeMetricFamily(
                "lykta_changelog_lag",
                "change-log revisions the index is behind the database",
                value=self.lag,
            )
        yield from self._http()

    def _http(self) -> Iterator[Any]:
        requests = CounterMetricFamily(
            "lykta_http_requests", "HTTP requests by route and status", labels=["route", "status"]
        )
        buckets: dict[str, list[float]] = {}
        seconds: dict[str, float] = {}
        for key, value in sorted(self.counts.items(), key=str):
            if not isinstance(key, tuple):
                continue  # the core's counts
            if key[0] == "requests":
                requests.add_metric([key[1], key[2]], value)
            elif key[0] == "bucket":
                buckets.setdefault(key[1], [0.0] * (len(BUCKETS) + 1))[key[2]] += value
            elif key[0] == "seconds":
                seconds[key[1]] = value
        yield requests
        latency = HistogramMetricFamily(
            "lykta_http_request_duration_seconds",
            "time from request to the end of the answer, by route",
            labels=["route"],
        )
        for route, counts in buckets.items():
            cumulative, running = [], 0.0
            for bound, count in zip([*map(str, BUCKETS), "+Inf"], counts, strict=True):
                running += count
                cumulative.append((bound, running))
            latency.add_metric([route], cumulative, seconds.get(route, 0.0))
        yield latency


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format"},
        **errors(401, 403),
    },
)
async def metrics(request: Request, _: MetricsReader) -> Response:
    """Counters and gauges for Prometheus (token scope `metrics` or `admin`)."""
    core: Lykta = request.app.state.core
    readiness = await run_in_threadpool(core.readiness)
    workers: WorkerCounts | None = request.app.state.worker_counts
    requests: Tally = request.app.state.request_tally
    counts = await run_in_threadpool(workers.totals) if workers else own_counts(core, requests)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LyktaCollector(core, counts, readiness.lag))
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encoder(registry), media_type=content_type)
