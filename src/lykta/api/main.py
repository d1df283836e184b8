"""Build the FastAPI application around a core."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lykta import __version__
from lykta.api import (
    audit,
    banks,
    cases,
    console,
    docs,
    exchanges,
    hma,
    home,
    matching,
    metrics,
    reports,
    status,
    streams,
)
from lykta.api.deps import TokenTable
from lykta.api.hma.errors import without_validation_422
from lykta.api.hot import HotLookups
from lykta.api.matching import STREAMED_LOOKUP
from lykta.app import Lykta
from lykta.errors import LyktaError
from lykta.exchanges.schedule import ExchangeScheduler
from lykta.stats import Tally

log = logging.getLogger(__name__)

# Multipart framing around an upload of exactly max_upload_bytes.
BODY_SLACK = 1024 * 1024


class BodyTooLarge(Exception):
    pass


def is_streamed_upload(path: str) -> bool:
    """The routes that take a raw body of gigabytes (a video), spooling it to disk."""
    return path == STREAMED_LOOKUP or (
        path.startswith("/api/v1/banks/") and path.endswith("/content/stream")
    )


class BodyLimitMiddleware:
    """Refuse request bodies over a limit before they are buffered or spooled to disk.

    The declared Content-Length is checked up front; bodies without one (chunked) are
    counted as they arrive. The streamed upload routes have their own, larger limit.
    """

    def __init__(self, app: ASGIApp, limit: int, streamed_limit: int) -> None:
        self.app = app
        self.limits = {
            False: (limit, "LYKTA_MAX_UPLOAD_BYTES"),
            True: (streamed_limit, "LYKTA_MAX_STREAM_UPLOAD_BYTES"),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, setting = self.limits[is_streamed_upload(scope["path"])]
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._refuse(send, limit, setting)
            return
        received = 0
        too_large = False

        async def counted() -> Message:
            nonlocal received, too_large
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                too_large = True
                raise BodyTooLarge
            return message

        async def unless_refused(message: Message) -> None:
            # The app may answer the interrupted read with an error of its own; ours wins.
            if not too_large:
                await send(message)

        with suppress(BodyTooLarge):
            await self.app(scope, counted, unless_refused)
        if too_large:
            await self._refuse(send, limit, setting)

    async def _refuse(self, send: Send, limit: int, setting: str) -> None:
        response = JSONResponse(
            {"detail": f"request body is larger than {limit} bytes ({setting})"},
            status_code=413,
        )
        await response({"type": "http"}, _no_body, send)


async def purge_evidence(core: Lykta, interval: float) -> None:
    """The evidence purge job, every ``interval`` seconds, in a thread off the event loop."""
    while True:
        await asyncio.sleep(interval)
        try:
            result = await run_in_threadpool(core.evidence.purge)
        except Exception:
            log.exception("evidence purge failed; next try in %g s", interval)
            continue
        if result.cases or result.files_deleted:
            log.info("evidence purged: %d case(s), %d file(s)", len(result.cases),
                     result.files_deleted)  # fmt: skip


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def create_app(core: Lykta, *, follow_changes: bool = True) -> FastAPI:
    """The HTTP app. With `follow_changes`, the matcher tracks other replicas' changes."""

    tokens = TokenTable(core.tokens)
    request_tally = Tally()
    # One of several workers answers each scrape: they share their counts.
    worker_counts = (
        metrics.WorkerCounts(core.settings.metrics_dir, core, request_tally)
        if core.settings.workers > 1
        else None
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if follow_changes:
            core.matcher.start(core.settings.sync_interval)
        background = [asyncio.create_task(tokens.keep_loaded())]
        if worker_counts is not None:
            background.append(asyncio.create_task(worker_counts.keep_publishing()))
        scheduler = None
        if follow_changes and core.settings.exchange_interval > 0:
            scheduler = ExchangeScheduler(core.exchanges, core.settings.exchange_interval)
            scheduler.start()
        if follow_changes and core.settings.evidence_purge_interval > 0:
            background.append(
                asyncio.create_task(purge_evidence(core, core.settings.evidence_purge_interval))
            )
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.stop()
            for task in background:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
            # Watchers run in this process's threads; they stop with it.
            await run_in_threadpool(core.stop_streams)
            core.matcher.stop()

    app = FastAPI(
        title="Lykta",
        version=__version__,
        description="Match photos and hashes against banks of known material. "
        "Every route but the probes /health and /readyz needs a bearer token "
        "(`lykta token create`); /metrics needs the metrics or admin scope.",
        lifespan=lifespan,
        # Served by lykta.api.docs from installed files instead of a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.core = core
    app.state.tokens = tokens
    app.state.request_tally = request_tally
    app.state.worker_counts = worker_counts

    @app.exception_handler(LyktaError)
    async def lykta_error(_: Request, error: LyktaError) -> JSONResponse:
        return JSONResponse(
            {"detail": error.message}, status_code=error.status_code, headers=error.headers
        )

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = []
        for item in error.errors():
            where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
            problems.append(f"{where}: {item.get('msg')}" if where else str(item.get("msg")))
        return JSONResponse({"detail": "; ".join(problems) or "bad request"}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        # An unknown route or method answers in both shapes: HMA's clients read `message`.
        body = {"detail": error.detail}
        if error.status_code in (404, 405):
            body["message"] = str(error.detail)
        return JSONResponse(body, status_code=error.status_code, headers=error.headers)

    for module in (
        status,
        matching,
        banks,
        exchanges,
        streams,
        cases,
        reports,
        audit,
        hma,
        docs,
        metrics,
        home,
        console,
    ):
        app.include_router(module.router)
    app.mount(docs.STATIC_PATH, docs.static_files(), name="static")

    def openapi() -> dict[str, Any]:
        schema = FastAPI.openapi(app)  # built once, then cached by FastAPI
        without_validation_422(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(
        BodyLimitMiddleware,
        limit=core.settings.max_upload_bytes + BODY_SLACK,
        streamed_limit=core.settings.max_stream_upload_bytes,
    )
    app.add_middleware(HotLookups, core=core, tokens=tokens)
    # Outermost, so the hot look-ups are timed too.
    app.add_middleware(metrics.RequestMetrics, tally=request_tally)
    return app
