"""HMA's error shape: `{"message": ...}` (plus Lykta's `detail`), 400 for bad input."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from lykta.api.schemas import ErrorOut, errors
from lykta.errors import Conflict, LyktaError


class HmaErrorOut(BaseModel):
    """HMA's error body, with Lykta's `detail` beside it."""

    message: str = Field(description="what was wrong (HMA's field)")
    detail: str = Field(description="the same, under the native API's name")


HMA_MEANINGS = {
    400: "bad input (HMA answers 400 where the native API answers 422)",
    403: "not allowed: the token's scope, a bank name already taken (HMA's status for it), "
    "or a URL that LYKTA_HMA_FETCH_URLS does not allow",
    413: "the body, upload or fetched media is over LYKTA_MAX_UPLOAD_BYTES",
}


def hma_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error statuses an HMA route can answer, in HMA's shape."""
    responses = errors(*statuses, model=HmaErrorOut, meanings=HMA_MEANINGS)
    if 413 in responses:
        # A body over the limit is refused before it reaches the route, in the native shape.
        responses[413]["model"] = ErrorOut
    return responses


def without_validation_422(openapi: dict[str, Any]) -> None:
    """Take FastAPI's 422 out of the HMA routes' spec: HmaRoute answers validation errors
    with 400, but FastAPI adds a 422 to every route with parameters that declares none."""
    for operations in openapi.get("paths", {}).values():
        for operation in operations.values():
            if "hma" in operation.get("tags", ()):
                operation.get("responses", {}).pop("422", None)
    # Every other route declares its own 422, so FastAPI's list-of-errors model is unused.
    if "/HTTPValidationError" not in json.dumps(openapi["paths"]):
        schemas = openapi.get("components", {}).get("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)


class HmaError(Exception):
    """An error only the HMA routes have (their own parameters and bodies)."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def error_response(
    status: int, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"message": message, "detail": message}, status, headers=headers)


class HmaRoute(APIRoute):
    """Answers errors the way HMA does: `{"message": ...}`, 400 for bad input, 403 for a bank
    name already taken (HMA's choice), never a 500 for the caller's mistake."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except HmaError as error:
                return error_response(error.status_code, error.message)
            except StarletteHTTPException as error:
                return error_response(error.status_code, str(error.detail), error.headers)
            except RequestValidationError as error:
                problems = []
                for item in error.errors():
                    where = ".".join(str(p) for p in item.get("loc", ()) if p not in ("body",))
                    problems.append(
                        f"{where}: {item.get('msg')}" if where else str(item.get("msg"))
                    )
                return error_response(400, "; ".join(problems) or "bad request")
            except Conflict as error:
                return error_response(403, error.message)
            except LyktaError as error:
                status = 400 if error.status_code == 422 else error.status_code
                return error_response(status, error.message, error.headers)

        return guarded
