"""What every router needs: the core, the caller's token checked for a scope, uploads read
within limits."""

from __future__ import annotations

import asyncio
import logging
import math
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, BinaryIO

from fastapi import Depends, HTTPException, Request, UploadFile
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from lykta.app import Lykta
from lykta.auth.tokens import Scope, TokenInfo, TokenRepository, digest, grants
from lykta.media.video import SNIFF_BYTES, looks_like_video

log = logging.getLogger(__name__)

bearer = HTTPBearer(auto_error=False, description="a token from `lykta token create`")

# Every live token is held in memory and reloaded this often, so checking a token reads no
# database, and a revoked token stops working within about this many seconds in every replica.
TOKEN_RELOAD_SECONDS = 1.0
# A table older than this means nothing reloads it (an app run without its lifespan, or a
# database that keeps failing): the next check reloads it before answering.
TOKEN_TABLE_STALE_SECONDS = 10.0
# A secret not in the table is looked up once, and if refused, remembered as refused this
# long, so a flood of bad tokens does not become a flood of database reads.
REFUSED_SECONDS = 5.0


# Dependencies and hot routes are `async def`: FastAPI runs plain `def` ones in a thread
# pool, and that hop costs more than the look-up itself.


async def get_core(request: Request) -> Lykta:
    return request.app.state.core  # type: ignore[no-any-return]


Core = Annotated[Lykta, Depends(get_core)]


class TokenTable:
    """The live tokens, by the digest of their secret (never the secret itself)."""

    MAX_REFUSED = 10_000

    def __init__(self, tokens: TokenRepository) -> None:
        self._tokens = tokens
        self._live: dict[str, TokenInfo] = {}
        self._loaded_at = -math.inf
        self._refused: dict[str, float] = {}

    def reload(self) -> None:
        """Read every live token from the database (blocking: call it off the event loop)."""
        loaded_at = time.monotonic()
        self._live = self._tokens.live()
        self._loaded_at = loaded_at

    async def keep_loaded(self) -> None:
        """Reload the table every TOKEN_RELOAD_SECONDS until cancelled."""
        while True:
            try:
                await run_in_threadpool(self.reload)
            except Exception:
                log.warning("could not reload API tokens; trying again", exc_info=True)
            await asyncio.sleep(TOKEN_RELOAD_SECONDS)

    def known(self, secret: str) -> TokenInfo | None:
        """The token if the table holds it and is current; no database read, ever."""
        if time.monotonic() - self._loaded_at > TOKEN_TABLE_STALE_SECONDS:
            return None
        return self._live.get(digest(secret))

    async def authenticate(self, secret: str) -> TokenInfo | None:
        now = time.monotonic()
        if now - self._loaded_at > TOKEN_TABLE_STALE_SECONDS:
            await run_in_threadpool(self.reload)
        key = digest(secret)
        info = self._live.get(key)
        if info is not None:
            return info
        # Created since the last reload, or wrong: ask the database once.
        refused_until = self._refused.get(key)
        if refused_until is not None and refused_until > now:
            return None
        info = await run_in_threadpool(self._tokens.authenticate, secret)
        if info is not None:
            self._live = {**self._live, key: info}
            return info
        if len(self._refused) >= self.MAX_REFUSED:
            self._refused = {k: until for k, until in self._refused.items() if until > now}
            if len(self._refused) >= self.MAX_REFUSED:
                self._refused.clear()
        self._refused[key] = now + REFUSED_SECONDS
        return None


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
        table: TokenTable = request.app.state.tokens
        info = await table.authenticate(credentials.credentials)
        if info is None:
            raise HTTPException(
                401, "invalid or revoked token", headers={"WWW-Authenticate": "Bearer"}
            )
        if not grants(info.scope, scope):
            needed = "metrics' or 'admin" if scope is Scope.METRICS else scope
            raise HTTPException(
                403, f"this token has scope '{info.scope}', this route needs '{needed}'"
            )
        return info

    return check


Matcher = Annotated[TokenInfo, Depends(require(Scope.MATCHER))]
Curator = Annotated[TokenInfo, Depends(require(Scope.CURATOR))]
Admin = Annotated[TokenInfo, Depends(require(Scope.ADMIN))]
MetricsReader = Annotated[TokenInfo, Depends(require(Scope.METRICS))]
Reviewer = Annotated[TokenInfo, Depends(require(Scope.REVIEWER))]
ChildSafety = Annotated[TokenInfo, Depends(require(Scope.CHILD_SAFETY))]


def actor(token: TokenInfo) -> str:
    """Who a token is, as case histories and the audit log name them."""
    return f"token:{token.id}" + (f":{token.name}" if token.name else "")


async def read_upload(core: Lykta, upload: UploadFile) -> bytes:
    limit = core.settings.max_upload_bytes
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(413, f"upload is larger than {limit} bytes (LYKTA_MAX_UPLOAD_BYTES)")
    return data


# Bytes of a streamed body handed to a worker thread per disk write.
STREAM_CHUNK = 1 << 20
# The OpenAPI request body of the routes that take a file as the raw body.
RAW_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@dataclass
class SpooledUpload:
    """A raw request body written to disk: the file (rewound), its size, and whether it
    is a video (told by its container)."""

    file: BinaryIO
    size: int
    is_video: bool


@asynccontextmanager
async def spooled_upload(request: Request, core: Lykta) -> AsyncIterator[SpooledUpload]:
    """Write the raw request body to an anonymous file in the data folder as it arrives,
    chunk by chunk off the event loop, so a video of gigabytes is never held in memory
    (the body's size is bounded by LYKTA_MAX_STREAM_UPLOAD_BYTES before it gets here). An
    empty body is refused (422), and so is a photo over LYKTA_MAX_UPLOAD_BYTES (413): only
    videos may be larger. The file is gone when the block ends."""
    spool = await run_in_threadpool(_spool_file, core)
    try:
        size = 0
        pending = bytearray()
        async for chunk in request.stream():
            pending += chunk
            size += len(chunk)
            if len(pending) >= STREAM_CHUNK:
                await run_in_threadpool(spool.write, bytes(pending))
                pending.clear()
        await run_in_threadpool(spool.write, bytes(pending))
        if size == 0:
            raise HTTPException(422, "the request body is empty: send the file as the body")
        is_video = await run_in_threadpool(_rewound_is_video, spool)
        if not is_video and size > core.settings.max_upload_bytes:
            raise HTTPException(
                413,
                f"a photo may be at most {core.settings.max_upload_bytes} bytes "
                "(LYKTA_MAX_UPLOAD_BYTES); only videos may be larger",
            )
        yield SpooledUpload(spool, size, is_video)
    finally:
        await run_in_threadpool(spool.close)


def _spool_file(core: Lykta) -> BinaryIO:
    """An anonymous file in the data folder (a temp folder may live in memory), gone when
    closed."""
    folder = core.settings.home_path / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryFile(dir=folder)


def _rewound_is_video(spool: BinaryIO) -> bool:
    spool.flush()
    spool.seek(0)
    head = spool.read(SNIFF_BYTES)
    spool.seek(0)
    return looks_like_video(head)
