"""HMA's error shape: `{"message": ...}` (plus Lykta's `detail`), 400 for bad input."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from lykta.errors import Conflict, LyktaError


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
