"""HMA's `/c` blueprint: banks and their content."""

from __future__ import annotations

import contextlib
import json
import re
import time
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from lykta.api.deps import Core, Curator
from lykta.api.hma.common import (
    VPDQ,
    ContentId,
    Types,
    fetch_for_hashing,
    parse_bool,
    read_form_file,
    read_json_body,
    signal_kind,
    signal_name,
    signal_names,
    undecodable_video,
    video_file,
    vpdq_of,
)
from lykta.api.hma.errors import HmaError, HmaRoute, hma_errors
from lykta.app import AddedMedia, Lykta
from lykta.auth.tokens import TokenInfo
from lykta.banks.formats import parse_vpdq_signal, vpdq_signal
from lykta.banks.items import ContentItem, ItemHash
from lykta.banks.service import BankInfo, ContentInfo
from lykta.errors import LyktaError, MediaError, NotFound
from lykta.hashing.registry import get_hasher

router = APIRouter(route_class=HmaRoute, responses=hma_errors(401, 403))
# A body may be bad (400) or too large (413); a write may wait behind another (503).
WRITE = (400, 413, 503)
# HMA's bank names, enforced where banks are named through these routes: HMA's clients (and
# its exchange routes) rely on it. Lykta's own API keeps its wider rule.
HMA_BANK_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
# HMA's metadata keys (`collab` is HMA's own provenance, dropped as HMA drops it).
METADATA_KEYS = {"content_id", "content_uri", "json"}
NOTE_MAX = 255
# HMA's values of `disable_until_ts`: 1 is enabled.
ENABLED = 1
DISABLE_MAX_SECONDS = 5 * 365 * 24 * 3600


class BankCreateIn(BaseModel):
    name: str
    enabled_ratio: float | None = Field(default=None, ge=0.0, le=1.0)
    enabled: bool | None = None


class BankUpdateIn(BaseModel):
    name: str | None = None
    enabled_ratio: float | None = Field(default=None, ge=0.0, le=1.0)
    enabled: bool | None = None


def _bank_config(bank: BankInfo) -> dict[str, Any]:
    ratio = 0.0 if not bank.enabled else bank.enabled_ratio
    return {"name": bank.name, "matching_enabled_ratio": 1.0 if ratio is None else ratio}


def _hma_bank_name(name: str) -> str:
    if not HMA_BANK_NAME.fullmatch(name) or len(name) > 128:
        raise HmaError(
            400,
            f"bad bank name {name!r}: bank names must be UPPER_WITH_UNDERSCORE (capital "
            "letters, digits and '_', not starting with a digit, at most 128)",
        )
    return name


def _enabled_fields(enabled: bool | None, enabled_ratio: float | None) -> dict[str, object]:
    """The bank columns HMA's `enabled`/`enabled_ratio` set; the ratio wins, as in HMA."""
    if enabled_ratio is not None:
        partial_ratio = enabled_ratio if 0 < enabled_ratio < 1 else None
        return {"enabled": enabled_ratio > 0, "enabled_ratio": partial_ratio}
    if enabled is not None:
        return {"enabled": enabled, "enabled_ratio": None}
    return {}


def _added_by(token: TokenInfo) -> str:
    return token.name or f"token:{token.id}"


@router.get("/c/banks")
def banks_index(core: Core, _: Curator) -> list[dict[str, Any]]:
    return [_bank_config(bank) for bank in core.banks.list_banks()]


@router.post("/c/banks", status_code=201, responses=hma_errors(*WRITE))
def bank_create(core: Core, _: Curator, body: BankCreateIn) -> dict[str, Any]:
    """Create a bank. A ratio of 0 disables it; one between 0 and 1 is the share of HMA
    look-ups that search it."""
    fields = _enabled_fields(body.enabled, body.enabled_ratio)
    return _bank_config(core.banks.create(_hma_bank_name(body.name), **fields))


@router.get("/c/bank/{bank_name}", responses=hma_errors(404))
def bank_show(core: Core, _: Curator, bank_name: str) -> dict[str, Any]:
    return _bank_config(core.banks.get(bank_name))


@router.put("/c/bank/{bank_name}", responses=hma_errors(404, *WRITE))
def bank_update(core: Core, _: Curator, bank_name: str, body: BankUpdateIn) -> dict[str, Any]:
    changes = _enabled_fields(body.enabled, body.enabled_ratio)
    if body.name is not None and body.name != bank_name:
        changes["name"] = _hma_bank_name(body.name)
    if not changes:
        return _bank_config(core.banks.get(bank_name))
    return _bank_config(core.banks.update(bank_name, **changes))


@router.delete("/c/bank/{bank_name}", responses=hma_errors(503))
def bank_delete(core: Core, _: Curator, bank_name: str) -> dict[str, str]:
    """As in HMA, deleting a bank that does not exist succeeds."""
    with contextlib.suppress(NotFound):
        core.banks.delete(bank_name)
    return {"message": "Done"}


def _add_signals(
    core: Lykta, bank_name: str, signals: dict[str, str], by: str, note: str | None
) -> dict[str, Any]:
    """Add `{signal_type: hash}` as HMA does: one content item holding every signal; answers
    `{"id", "signals"}`. Content whose every signal the bank holds already is not added
    twice: its existing id is given."""
    if not signals:
        raise HmaError(400, "No signals given")
    hashes: list[ItemHash] = []
    normalised: dict[str, str] = {}
    duration = None
    for name, value in signals.items():
        if name == VPDQ:
            try:
                video = parse_vpdq_signal(value if isinstance(value, str) else "")
            except LyktaError as error:
                raise HmaError(400, f"Invalid {name} signal: {error.message}") from None
            hashes += video.hashes
            normalised[name], duration = vpdq_signal(video.hashes), video.duration
            continue
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
    media = "video" if duration is not None else None
    item = ContentItem(tuple(hashes), note=note, media_kind=media, duration=duration)
    summary = core.banks.add_content(bank_name, [item], added_by=by)
    return {"id": summary.content_ids[0], "signals": normalised}


def _external_id(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 512:
        raise HmaError(400, "Invalid metadata: content_id must be a string of at most 512 chars")
    return value


def _metadata_content_id(metadata: object) -> str | None:
    """The external id in HMA's metadata object; its other keys are checked, not stored."""
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise HmaError(400, "metadata should be a json object")
    unknown = set(metadata) - METADATA_KEYS - {"collab"}
    if unknown:
        shown = ", ".join(repr(key[:40]) for key in sorted(unknown)[:5])
        raise HmaError(400, f"Invalid metadata: unknown field(s) {shown}")
    if metadata.get("content_uri") is not None and not isinstance(metadata["content_uri"], str):
        raise HmaError(400, "Invalid metadata: content_uri must be a string")
    if metadata.get("json") is not None and not isinstance(metadata["json"], dict):
        raise HmaError(400, "Invalid metadata: json must be an object")
    return _external_id(metadata.get("content_id"))


def _form_metadata(text: object) -> object:
    """HMA's multipart `metadata` field: a JSON object as text."""
    if text is None:
        return None
    try:
        return json.loads(str(text))
    except (ValueError, RecursionError):
        raise HmaError(400, "metadata form field must be valid JSON") from None


def _note(value: object) -> str | None:
    """HMA's note: a string of at most 255 characters; an empty one is no note."""
    if not value:
        return None
    if not isinstance(value, str):
        raise HmaError(400, "note should be a string")
    if len(value) > NOTE_MAX:
        raise HmaError(400, f"note must be at most {NOTE_MAX} characters")
    return value


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

    Metadata: `content_id` (JSON `{"metadata": {...}}`, or a form field `metadata` or
    `content_id`) becomes the content's external id; `content_uri` and `json` are checked
    and not stored. `note` (JSON or form) is stored."""
    await run_in_threadpool(core.banks.get, bank_name)  # 404 before reading any media
    header = request.headers.get("content-type", "")
    external_id: str | None = None
    note: str | None = None
    upload: tuple[str, bytes] | None = None
    if header.startswith("multipart/form-data"):
        form = await request.form(max_files=2, max_fields=100)
        upload = await read_form_file(core, form)
        external_id = _metadata_content_id(_form_metadata(form.get("metadata")))
        external_id = _external_id(form.get("content_id")) or external_id
        note = _note(form.get("note"))
    elif header.startswith("application/json"):
        body = await read_json_body(request)
        if isinstance(body, dict):
            external_id = _metadata_content_id(body.get("metadata"))
            note = _note(body.get("note"))
    if url:
        data, names = await fetch_for_hashing(core, url, content_type, types)
    elif upload is not None:
        kind, data = upload
        names = signal_names(kind, types)
    else:
        raise HmaError(400, "Neither `url` nor multipart file upload was received")
    add = partial(
        _add_media,
        core,
        bank_name,
        data,
        external_id=external_id,
        added_by=_added_by(token),
        note=note,
    )
    try:
        added = await run_in_threadpool(add, names)
    except MediaError as error:
        if VPDQ not in names:
            raise
        names = undecodable_video(names, error, vpdq_asked=types is not None)
        added = await run_in_threadpool(add, names)
    kinds = [signal_kind(name) for name in names]
    return {
        "id": added.content_id,
        "signals": {
            name: vpdq_of(added.video)
            if name == VPDQ and added.video is not None
            else added.hashes[kind]
            for name, kind in zip(names, kinds, strict=True)
        },
    }


def _add_media(core: Lykta, bank: str, data: bytes, names: list[str], **fields: Any) -> AddedMedia:
    """Bank one file's signals of ``names``; a vPDQ's file must be a video."""
    media = video_file(data) if VPDQ in names else data
    return core.add_media(bank, media, kinds=[signal_kind(name) for name in names], **fields)


@router.post("/c/bank/{bank_name}/signal", responses=hma_errors(404, *WRITE))
async def bank_add_signals(
    request: Request, core: Core, token: Curator, bank_name: str
) -> dict[str, Any]:
    """Bank hashes directly: a JSON object `{signal_type: hash}`, and optionally `note`."""
    await run_in_threadpool(core.banks.get, bank_name)
    body = await read_json_body(request)
    if not isinstance(body, dict):
        raise HmaError(400, "expected a JSON object of {signal_type: signal}")
    note = _note(body.pop("note", None))
    return await run_in_threadpool(_add_signals, core, bank_name, body, _added_by(token), note)


def _content_out(
    bank: BankInfo, content: ContentInfo, *, with_signals: bool, with_metadata: bool
) -> dict[str, Any]:
    """HMA's bank content: `metadata` and `note` are left out when there are none."""
    out: dict[str, Any] = {
        "id": content.id,
        "disable_until_ts": ENABLED
        if content.disable_until_ts is None
        else content.disable_until_ts,
        "original_media_uri": None,
        "bank": _bank_config(bank),
    }
    if with_metadata and content.external_id:
        out["metadata"] = {"content_id": content.external_id}
    if content.note:
        out["note"] = content.note
    if with_signals:
        frames = [h for h in content.item.hashes if h.seconds is not None]
        out["signals"] = {
            signal_name(h.kind): h.value for h in content.item.hashes if h.seconds is None
        }
        if frames:
            out["signals"][VPDQ] = vpdq_signal(frames)
    return out


@router.get("/c/bank/{bank_name}/content/{content_id}", responses=hma_errors(400, 404))
def bank_get_content(
    core: Core,
    _: Curator,
    bank_name: str,
    content_id: ContentId,
    include_signals: str = "false",
    include_metadata: str = "true",
) -> dict[str, Any]:
    with_signals = parse_bool(include_signals)
    with_metadata = parse_bool(include_metadata)
    bank = core.banks.get(bank_name)
    content = core.banks.get_content(bank_name, content_id)
    return _content_out(bank, content, with_signals=with_signals, with_metadata=with_metadata)


@router.put("/c/bank/{bank_name}/content/{content_id}", responses=hma_errors(404, *WRITE))
async def bank_update_content(
    request: Request, core: Core, _: Curator, bank_name: str, content_id: ContentId
) -> dict[str, Any]:
    """Change a content's `note`, or its `disable_until_ts` (HMA's switch: 1 enabled, 0
    disabled, a Unix time disabled until then, at most five years ahead)."""
    body = await read_json_body(request)
    if not isinstance(body, dict):
        raise HmaError(400, "expected a JSON object")
    changes: dict[str, object] = {}
    if "disable_until_ts" in body:
        changes["disable_until_ts"] = _disable_until(body["disable_until_ts"])
    if "note" in body:
        changes["note"] = _note(body["note"])

    def update() -> dict[str, Any]:
        bank = core.banks.get(bank_name)
        if changes:
            content = core.banks.update_content(bank_name, content_id, **changes)
        else:
            content = core.banks.get_content(bank_name, content_id)
        return _content_out(bank, content, with_signals=False, with_metadata=True)

    return await run_in_threadpool(update)


def _disable_until(value: object) -> int:
    try:
        if isinstance(value, bool | float):
            raise ValueError
        seconds = int(str(value))
    except ValueError:
        raise HmaError(400, "disable_until_ts must be an integer") from None
    if seconds < 0:
        raise HmaError(400, "disable_until_ts must be a non-negative integer")
    if seconds > time.time() + DISABLE_MAX_SECONDS:
        raise HmaError(400, "disable_until_ts must be less than 5 years in the future")
    return seconds


@router.delete("/c/bank/{bank_name}/content/{content_id}", responses=hma_errors(400, 404, 503))
def bank_delete_content(
    core: Core, _: Curator, bank_name: str, content_id: ContentId
) -> dict[str, int]:
    core.banks.get(bank_name)
    try:
        return {"deleted": core.banks.remove_content(bank_name, [content_id])}
    except NotFound:
        return {"deleted": 0}
