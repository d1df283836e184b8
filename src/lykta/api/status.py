"""Liveness and readiness (no token: probes carry none, and they answer only yes or no
with the reason) and status (any token)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from lykta import __version__
from lykta.api.deps import Core, Matcher
from lykta.api.schemas import ReadinessOut, StatusOut, errors

router = APIRouter(tags=["status"])


@router.get("/health")
def health() -> dict[str, bool]:
    """Liveness: the process answers. The only route that needs no token."""
    return {"ok": True}


@router.get(
    "/readyz",
    response_model=ReadinessOut,
    responses={503: {"model": ReadinessOut, "description": "not ready: `problems` says why"}},
)
def readyz(core: Core) -> JSONResponse:
    """Readiness: the database answers, its schema is the one this Lykta expects, and the
    index is loaded. 503 with the problems otherwise, so a load balancer sends no look-ups
    here. Unlike /health it reads the database."""
    readiness = core.readiness()
    body = ReadinessOut(
        ready=readiness.ready,
        database=readiness.database,
        migrations=readiness.migrations,
        index=readiness.index,
        problems=list(readiness.problems),
    )
    return JSONResponse(body.model_dump(), status_code=200 if readiness.ready else 503)


@router.get("/api/v1/status", response_model=StatusOut, responses=errors(401))
def status(core: Core, _: Matcher) -> StatusOut:
    database = core.database_ok()
    return StatusOut(
        ok=database,
        version=__version__,
        database=database,
        revision=core.matcher.revision,
        index_size=core.matcher.size(),
    )
