"""HMA's readiness probe."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from lykta.api.deps import Core, Matcher
from lykta.api.hma.errors import HmaErrorOut, HmaRoute, hma_errors

router = APIRouter(route_class=HmaRoute)


@router.get(
    "/status",
    response_class=PlainTextResponse,
    responses={
        503: {
            "description": "DATABASE-UNAVAILABLE",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        # Errors are JSON even though the answer is text: spelt out, as FastAPI would give
        # the model this route's text/plain.
        401: {
            "description": hma_errors(401)[401]["description"],
            "content": {"application/json": {"schema": HmaErrorOut.model_json_schema()}},
        },
    },
)
def hma_status(core: Core, _: Matcher) -> PlainTextResponse:
    """HMA's readiness probe: `I-AM-ALIVE`, or 503. (Lykta's token-free probe is /health.)"""
    if not core.database_ok():
        return PlainTextResponse("DATABASE-UNAVAILABLE", 503)
    return PlainTextResponse("I-AM-ALIVE")


@router.get("/status/live", response_class=PlainTextResponse)
def hma_status_live() -> PlainTextResponse:
    """HMA's liveness probe: `I-AM-ALIVE` while the process answers. Like /health it needs
    no token, and it tells nothing but that the process is up."""
    return PlainTextResponse("I-AM-ALIVE")


@router.get("/openapi/openapi.json", include_in_schema=False)
def hma_openapi(request: Request) -> dict[str, Any]:
    """HMA's spec location: the HMA-compatible routes of Lykta's spec under HMA's title.
    Public like Lykta's own /openapi.json."""
    spec: dict[str, Any] = request.app.openapi()
    paths = {
        path: operations
        for path, operations in spec["paths"].items()
        if any("hma" in op.get("tags", ()) for op in operations.values())
    }
    info = {**spec["info"], "title": "Open Media Match API"}
    info["description"] = "HMA-compatible routes served by Lykta; see Lykta's docs/hma.md."
    return {**spec, "info": info, "paths": paths}
