"""HMA's readiness probe."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from lykta.api.deps import Core, Matcher
from lykta.api.hma.errors import HmaRoute

router = APIRouter(route_class=HmaRoute)


@router.get("/status", response_class=PlainTextResponse)
def hma_status(core: Core, _: Matcher) -> PlainTextResponse:
    """HMA's readiness probe: `I-AM-ALIVE`, or 503. (Lykta's token-free probe is /health.)"""
    if not core.database_ok():
        return PlainTextResponse("DATABASE-UNAVAILABLE", 503)
    return PlainTextResponse("I-AM-ALIVE")
