"""The two hottest routes, answered before FastAPI: `GET /api/v1/lookup?hash=` and HMA's
`GET /m/raw_lookup?signal_type=&signal=`, the calls a platform makes for every upload.

FastAPI's routing, dependency solving and response handling cost more per request than the
look-up itself. Here a look-up with a token the in-memory table holds, only the parameters
below and a valid hash is answered directly. Everything else (no token, a token not yet in
the table, another parameter, a bad hash, any error) goes on to the full route, which
answers it as documented; both build the body with the same function, so the two answer
alike byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from lykta.api.deps import TokenTable
from lykta.api.hma.common import signal_kind
from lykta.api.hma.errors import HmaError
from lykta.api.hma.matching import raw_lookup_answer
from lykta.app import Lykta
from lykta.auth.tokens import Scope as TokenScope
from lykta.auth.tokens import grants
from lykta.errors import LyktaError
from lykta.matching import LookupResult
from lykta.outputs import LookupOut

NATIVE_PARAMETERS = frozenset({"hash", "kind"})
HMA_PARAMETERS = frozenset({"signal", "signal_type", "include_distance"})
HMA_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


class HotLookups:
    """ASGI middleware answering the plain cases of the two look-up routes itself."""

    def __init__(self, app: ASGIApp, core: Lykta, tokens: TokenTable) -> None:
        self.app = app
        self.core = core
        self.tokens = tokens
        self.routes: dict[str, Callable[[dict[str, str]], Awaitable[bytes | None]]] = {
            "/api/v1/lookup": self._native,
            "/m/raw_lookup": self._hma,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            route = self.routes.get(scope["path"])
            if route is not None and self._matcher(scope):
                params = _parameters(scope["query_string"])
                body = await route(params) if params is not None else None
                if body is not None:
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 200,
                            "headers": [
                                (b"content-length", str(len(body)).encode()),
                                (b"content-type", b"application/json"),
                            ],
                        }
                    )
                    await send({"type": "http.response.body", "body": body})
                    return
        await self.app(scope, receive, send)

    def _matcher(self, scope: Scope) -> bool:
        """Whether the request carries a bearer token the table holds with matcher scope."""
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, secret = value.decode("latin-1").partition(" ")
                if scheme.lower() != "bearer":
                    return False
                info = self.tokens.known(secret.strip())
                return info is not None and grants(info.scope, TokenScope.MATCHER)
        return False

    async def _native(self, params: dict[str, str]) -> bytes | None:
        if "hash" not in params or not params.keys() <= NATIVE_PARAMETERS:
            return None
        found = self._lookup(params.get("kind", "pdq"), params["hash"])
        return None if found is None else LookupOut.of(found).model_dump_json().encode()

    async def _hma(self, params: dict[str, str]) -> bytes | None:
        if not params.keys() <= HMA_PARAMETERS or "signal" not in params:
            return None
        with_distance = HMA_BOOLEANS.get(params.get("include_distance", "false").lower())
        try:
            kind = signal_kind(params.get("signal_type", ""))
        except HmaError:
            return None
        found = self._lookup(kind, params["signal"])
        if found is None or with_distance is None:
            return None
        answer = raw_lookup_answer(found.matches, with_distance)
        # As Starlette's JSONResponse renders it.
        return json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()

    def _lookup(self, kind: str, value: str) -> LookupResult | None:
        """As the full routes look up, on the event loop (a look-up reads memory only).
        None on any error, which the full route then reports."""
        try:
            return self.core.lookup_hash(kind, value)
        except LyktaError:
            return None


def _parameters(query: bytes) -> dict[str, str] | None:
    """The query parameters, or None where one is repeated (left to the full route)."""
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    params = dict(pairs)
    return params if len(params) == len(pairs) else None
