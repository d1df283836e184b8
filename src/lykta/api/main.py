"""Build the FastAPI application around a core."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from lykta import __version__
from lykta.api import banks, hma, matching, status
from lykta.api.deps import TokenCache
from lykta.app import Lykta
from lykta.errors import LyktaError

log = logging.getLogger(__name__)


def create_app(core: Lykta, *, follow_changes: bool = True) -> FastAPI:
    """The HTTP app. With `follow_changes`, the matcher tracks other replicas' changes."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if follow_changes:
            core.matcher.start(core.settings.sync_interval)
        try:
            yield
        finally:
            core.matcher.stop()

    app = FastAPI(
        title="Lykta",
        version=__version__,
        description="Match photos and hashes against banks of known material. "
        "Every route but /health needs a bearer token (`lykta token create`).",
        lifespan=lifespan,
    )
    app.state.core = core
    app.state.token_cache = TokenCache()

    @app.exception_handler(LyktaError)
    async def lykta_error(_: Request, error: LyktaError) -> JSONResponse:
        return JSONResponse({"detail": error.message}, status_code=error.status_code)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = []
        for item in error.errors():
            where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
            problems.append(f"{where}: {item.get('msg')}" if where else str(item.get("msg")))
        return JSONResponse({"detail": "; ".join(problems) or "bad request"}, status_code=422)

    for module in (status, matching, banks, hma):
        app.include_router(module.router)
    return app
