"""HMA's `/c` blueprint: banks and their content."""

from __future__ import annotations

import contextlib
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from lykta.api.deps import Core, Curator
from lykta.api.hma.common import (
    ContentId,
    Types,
    fetch_for_hashing,
    parse_bool,
    read_form_file,
    read_json_body,
    signal_kind,
    signal_name,
    signal_names,
)
from lykta.api.hma.errors import HmaError, HmaRoute, hma_errors
from lykta.app import Lykta
from lykta.auth.tokens import TokenInfo
from lykta.banks.items import ContentItem, ItemHash
from lykta.banks.service import BankInfo
from lykta.errors import LyktaError, NotFound
from lykta.hashing.registry import get_hasher

router = APIRouter(route_class=HmaRoute, responses=hma_errors(401, 403))
# A body may be bad (400) or too large (413); a write may wait behind another (503).
WRITE = (400, 413, 503)


class BankCreateIn(BaseModel):
    name: str
    enabled_ratio: float | None = Field(default=None, ge=0.0, le=1.0)
    enabled: bool | None = None


class BankUpdateIn(BaseModel):
    name: str | None = None
    enabled_ratio: float | None = Field(default=None, ge=0.0, le=1.0)
    enabled: bool | None = None


def _bank_config(bank: BankInfo) -> dict[str, Any]:
    return {"name": bank.name, "matching_enabled_ratio": 1.0 if bank.enabled else 0.0}


def _added_by(token: TokenInfo) -> str:
    return token.name or f"token:{token.id}"


@router.get("/c/banks")
def banks_index(core: Core, _: Curator) -> list[dict[str, Any]]:
    return [_bank_config(bank) for bank in core.banks.list_banks()]


@router.post("/c/banks", status_code=201, responses=hma_errors(*WRITE))
def bank_create(core: Core, _: Curator, body: BankCreateIn) -> dict[str, Any]:
    """Create a bank. A ratio above 0 means enabled: Lykta has no partial matching."""
    if body.enabled_ratio is not None:
        enabled = body.enabled_ratio > 0
    elif body.enabled is not None:
        enabled = body.enabled
    else:
        enabled = True
    return _bank_config(core.banks.create(body.name, enabled=enabled))


@router.get("/c/bank/{bank_name}", responses=hma_errors(404))
def bank_show(core: Core, _: Curator, bank_name: str) -> dict[str, Any]:
    return _bank_config(core.banks.get(bank_name))


@router.put("/c/bank/{bank_name}", responses=hma_errors(404, *WRITE))
def bank_update(core: Core, _: Curator, bank_name: str, body: BankUpdateIn) -> dict[str, Any]:
    changes: dict[str, object] = {}
    if body.name is not None:
        changes["name"] = body.name
    if body.enabled is not None:
        changes["enabled"] = body.enabled
    if body.enabled_ratio is not None:
        changes["enabled"] = body.enabled_ratio > 0
    if not changes:
        return _bank_config(core.banks.get(bank_name))
    return _bank_config(core.banks.update(bank_name, **changes))


@router.delete("/c/bank/{bank_name}", responses=hma_errors(503))
def bank_delete(core: Core, _: Curator, bank_name: str) -> dict[str, str]:
    """As in HMA, deleting a bank that does not exist succeeds."""
    with contextlib.suppress(NotFound):
        core.banks.delete(bank_name)
    return {"message": "Done"}


def _add_signals(core: Lykta, bank_name: str, signals: dict[str, str], by: str) -> dict[str, Any]:
    """Add `{signal_type: hash}` as HMA does: one content item holding every signal; answers
    `{"id", "signals"}`. Content whose every signal the bank holds already is not added
    twice: its existing id is given."""
    if not signals:
        raise HmaError(400, "No signals given")
    hashes: list[ItemHash] = []
    normalised: dict[str, str] = {}
    for name, value in signals.items():
        try:
            kind = signal_kind(name)
        except HmaError:
            raise HmaError(400, f"No such signal type {name}") from None
        if not isinstance(value, str):
            raise HmaError(400, f"Invalid {name} signal: not a string")
        try:
            normalised[name] = get_hasher(kind).validate(value)
        except LyktaError as error:
            raise HmaError(400, f"Invalid {name} signal: {error.message}") from None
        hashes.append(ItemHash(kind, normalised[name]))
    item = ContentItem(tuple(hashes))
    summary = core.banks.add_content(bank_name, [item], added_by=by)
    return {"id": summary.content_ids[0], "signals": normalised}


def _external_id(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 512:
        raise HmaError(400, "Invalid metadata: content_id must be a string of at most 512 chars")
    return value


def _metadata_content_id(metadata: object) -> str | None:
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise HmaError(400, "metadata should be a json object")
    return _external_id(metadata.get("content_id"))


@router.post("/c/bank/{bank_name}/content", responses=hma_errors(404, *WRITE))
async def bank_add_content(
    request: Request,
    core: Core,
    token: Curator,
    bank_name: str,
    url: str | None = None,
    content_type: str | None = None,
    types: Types = None,
) -> dict[str, Any]:
    """Hash media (multipart field `photo`/`video`, or `url=`) and bank its signals.

    Metadata: `content_id` (JSON `{"metadata": {...}}` or a form field) becomes the content's
    external id; other metadata, `note` and `content_uri` are accepted and not stored."""
    await run_in_threadpool(core.banks.get, bank_name)  # 404 before reading any media
    header = request.headers.get("content-type", "")
    external_id: str | None = None
    upload: tuple[str, bytes] | None = None
    if header.startswith("multipart/form-data"):
        form = await request.form(max_files=2, max_fields=100)
        upload = await read_form_file(core, form)
        external_id = _external_id(form.get("content_id"))
    elif header.startswith("application/json"):
        body = await read_json_body(request)
        if isinstance(body, dict):
            external_id = _metadata_content_id(body.get("metadata"))
    if url:
        data, names = await fetch_for_hashing(core, url, content_type, types)
    elif upload is not None:
        kind, data = upload
        names = signal_names(kind, types)
    else:
        raise HmaError(400, "Neither `url` nor multipart file upload was received")
    kinds = [signal_kind(name) for name in names]
    added = await run_in_threadpool(
        partial(core.add_media, kinds=kinds, external_id=external_id, added_by=_added_by(token)),
        bank_name,
        data,
    )
    return {
        "id": added.content_id,
        "signals": {name: added.hashes[kind] for name, kind in zip(names, kinds, strict=True)},
    }


@router.post("/c/bank/{bank_name}/signal", responses=hma_errors(404, *WRITE))
async def bank_add_signals(
    request: Request, core: Core, token: Curator, bank_name: str
) -> dict[str, Any]:
    """Bank hashes directly: a JSON object `{signal_type: hash}`."""
    await run_in_threadpool(core.banks.get, bank_name)
    body = await read_json_body(request)
    if not isinstance(body, dict):
        raise HmaError(400, "expected a JSON object of {signal_type: signal}")
    return await run_in_threadpool(_add_signals, core, bank_name, body, _added_by(token))


@router.get("/c/bank/{bank_name}/content/{content_id}", responses=hma_errors(400, 404))
def bank_get_content(
    core: Core, _: Curator, bank_name: str, content_id: ContentId, include_signals: str = "false"
) -> dict[str, Any]:
    with_signals = parse_bool(include_signals)
    bank = core.banks.get(bank_name)
    content = core.banks.get_content(bank_name, content_id)
    out: dict[str, Any] = {
        "id": content.id,
        "disable_until_ts": 1,  # HMA's "enabled"; Lykta has no per-content disabling
        "original_media_uri": None,
        "bank": _bank_config(bank),
        "metadata": {"content_id": content.external_id} if content.external_id else None,
        "note": None,
    }
    if with_signals:
        out["signals"] = {signal_name(h.kind): h.value for h in content.item.hashes}
    return out


@router.delete("/c/bank/{bank_name}/content/{content_id}", responses=hma_errors(400, 404, 503))
def bank_delete_content(
    core: Core, _: Curator, bank_name: str, content_id: ContentId
) -> dict[str, int]:
    core.banks.get(bank_name)
    try:
        return {"deleted": core.banks.remove_content(bank_name, [content_id])}
    except NotFound:
        return {"deleted": 0}
