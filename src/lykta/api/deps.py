"""What every router needs: the core, the caller's token checked for a scope, uploads read
within limits."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, UploadFile
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from lykta.app import Lykta
from lykta.auth.tokens import Scope, TokenInfo, grants

bearer = HTTPBearer(auto_error=False, description="a token from `lykta token create`")

# Tokens are checked against the database at most this often, so a revoked token stops
# working within this many seconds in every replica.
TOKEN_CACHE_SECONDS = 5.0


# Dependencies and hot routes are `async def`: FastAPI runs plain `def` ones in a thread
# pool, and that hop costs more than the look-up itself.


async def get_core(request: Request) -> Lykta:
    return request.app.state.core  # type: ignore[no-any-return]


Core = Annotated[Lykta, Depends(get_core)]


class TokenCache:
    """Recent answers per token digest (never the secret itself), refused ones included,
    so a flood of bad tokens does not become a flood of database reads."""

    MAX_ENTRIES = 10_000

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, TokenInfo | None]] = {}

    async def authenticate(self, core: Lykta, secret: str) -> TokenInfo | None:
        now = time.monotonic()
        key = hashlib.sha256(secret.encode()).hexdigest()
        held = self._entries.get(key)
        if held is not None and held[0] > now:
            return held[1]
        info = await run_in_threadpool(core.tokens.authenticate, secret)
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now and v[1]}
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries.clear()
        self._entries[key] = (now + TOKEN_CACHE_SECONDS, info)
        return info


def require(scope: Scope) -> Callable[..., Awaitable[TokenInfo]]:
    """A dependency that lets the request through only with a token holding `scope`."""

    async def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> TokenInfo:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(
                401,
                "missing bearer token: send 'Authorization: Bearer <token>' "
                "(create one with `lykta token create --scope ...`)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        cache: TokenCache = request.app.state.token_cache
        info = await cache.authenticate(request.app.state.core, credentials.credentials)
        if info is None:
            raise HTTPException(
                401, "invalid or revoked token", headers={"WWW-Authenticate": "Bearer"}
            )
        if not grants(info.scope, scope):
            raise HTTPException(
                403, f"this token has scope '{info.scope}', this route needs '{scope}'"
            )
        return info

    return check


Matcher = Annotated[TokenInfo, Depends(require(Scope.MATCHER))]
Curator = Annotated[TokenInfo, Depends(require(Scope.CURATOR))]
Admin = Annotated[TokenInfo, Depends(require(Scope.ADMIN))]


async def read_upload(core: Lykta, upload: UploadFile) -> bytes:
    limit = core.settings.max_upload_bytes
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(413, f"upload is larger than {limit} bytes (LYKTA_MAX_UPLOAD_BYTES)")
    return data
