"""Liveness (no token) and status (any token)."""

from __future__ import annotations

from fastapi import APIRouter

from lykta import __version__
from lykta.api.deps import Core, Matcher
from lykta.api.schemas import StatusOut, errors

router = APIRouter(tags=["status"])


@router.get("/health")
def health() -> dict[str, bool]:
    """Liveness: the process answers. The only route that needs no token."""
    return {"ok": True}


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
