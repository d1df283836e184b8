"""HMA's readiness probe."""

from __future__ import annotations

from fastapi import APIRouter
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
