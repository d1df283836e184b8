"""HMA's `/h` blueprint: hash media given by upload or URL."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from lykta.api.deps import Core, Matcher
from lykta.api.hma.common import (
    Types,
    fetch_for_hashing,
    hash_signals,
    read_form,
    read_form_file,
    signal_names,
)
from lykta.api.hma.errors import HmaError, HmaRoute, hma_errors

router = APIRouter(route_class=HmaRoute)


@router.get("/h/hash", responses=hma_errors(400, 401, 403, 413))
async def hash_url(
    core: Core,
    _: Matcher,
    url: str | None = None,
    content_type: str | None = None,
    types: Types = None,
) -> dict[str, str]:
    """Fetch media and hash it: `{signal_type: hash}`. Needs LYKTA_HMA_FETCH_URLS."""
    if url is None:
        raise HmaError(400, "url is required")
    data, names = await fetch_for_hashing(core, url, content_type, types)
    return await run_in_threadpool(
        partial(hash_signals, vpdq_asked=types is not None), core, data, names
    )


@router.post("/h/hash", responses=hma_errors(400, 401, 413))
async def hash_upload(
    request: Request, core: Core, _: Matcher, types: Types = None
) -> dict[str, str]:
    """Hash one uploaded file; its multipart field name is the content type (`photo`, `video`)."""
    found = await read_form_file(core, await read_form(request))
    if found is None:
        raise HmaError(400, "Missing multipart/form-data file upload")
    kind, data = found
    names = signal_names(kind, types)
    return await run_in_threadpool(
        partial(hash_signals, vpdq_asked=types is not None), core, data, names
    )
