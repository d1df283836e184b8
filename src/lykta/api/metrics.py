"""`/metrics` in Prometheus' text format: requests and their latency by route, look-ups and
matches, index size and revision, change-log lag.

The counting happens on every request, so it is plain arithmetic on per-thread counters
(`lykta.stats.Tally`): no lock, no allocation beyond a tuple key. prometheus_client only
renders the counts when a scrape asks (a custom collector), because its own Counter and
Histogram take a lock on every update, which the look-up path must not. It is used rather
than a hand-written renderer for the exposition format's escaping and for content
negotiation (Prometheus text or OpenMetrics, as the scraper asks).

Every worker process counts its own requests; see docs/operations.md.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterator
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

# Seconds. Look-ups by hash answer in well under a millisecond; photo uploads in tens.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Paths answered before routing (api/hot.py), so they have no route to be labelled by.
UNROUTED = frozenset({"/api/v1/lookup", "/m/raw_lookup"})
OTHER = "other"  # a path no route matched: unbounded values must not become labels

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
            tally.add(("requests", path, f"{status // 100}xx"))
            tally.add(("bucket", path, bisect_left(BUCKETS, elapsed)))
            tally.add(("seconds", path), elapsed)


class LyktaCollector(Collector):
    """Renders the counts of one core and its HTTP app at scrape time."""

    def __init__(self, core: Lykta, tally: Tally, lag: int | None) -> None:
        self.core = core
        self.tally = tally
        self.lag = lag

    def collect(self) -> Iterator[Any]:
        info = GaugeMetricFamily("lykta_info", "Lykta's version", labels=["version"])
        info.add_metric([__version__], 1)
        yield info
        counts = self.core.stats.totals()
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
        for key, value in sorted(self.tally.totals().items(), key=str):
            assert isinstance(key, tuple)
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
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LyktaCollector(core, request.app.state.request_tally, readiness.lag))
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encoder(registry), media_type=content_type)
