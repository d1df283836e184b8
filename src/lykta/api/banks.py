"""Banks, bank content, import and export."""

from __future__ import annotations

import io
from collections.abc import Iterator
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, File, HTTPException, Path, Query, Request, Response, UploadFile
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from lykta.api.deps import RAW_BODY, Core, Curator, read_upload, spooled_upload
from lykta.api.schemas import BankIn, BankPatch, ContentIn, HashIn, errors
from lykta.auth.tokens import TokenInfo
from lykta.banks.formats import (
    FORMATS,
    MAX_EXTERNAL_ID,
    describe_skipped,
    export_filename,
    file_stem,
    get_format,
    guess_format,
    skipped_kinds,
    text_problem,
)
from lykta.banks.items import ContentItem, ItemHash
from lykta.errors import InvalidInput
from lykta.hashing.registry import get_hasher
from lykta.outputs import BankOut, ContentOut, ImportOut

router = APIRouter(prefix="/api/v1/banks", tags=["banks"], responses=errors(401, 403))
# A body may be unparseable (400) or too large (413); a write may wait behind another (503).
WRITE = (400, 413, 422, 503)

ContentId = Annotated[int, Path(ge=1, le=2**63 - 1, description="bank content id")]
# Says what an export left out because its format cannot hold it (vPDQ holds PDQ only).
SKIPPED_HEADER = "X-Lykta-Export-Skipped"
FormatName = Annotated[str, Query(description=f"one of: {', '.join(FORMATS)}")]
ImportFormat = Annotated[
    str | None,
    Query(
        description=f"one of: {', '.join(FORMATS)}; by default the file name's (`.csv`: csv, "
        "`.vpdq.txt`: vpdq, `.threatexchange.txt`: threatexchange, else text), as an "
        "export names it"
    ),
]


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:40]) + "..."


@router.get("", response_model=list[BankOut])
def list_banks(core: Core, _: Curator) -> list[BankOut]:
    return [BankOut.of(bank) for bank in core.banks.list_banks()]


def _bank_fields(body: BankIn | BankPatch, *, exclude_unset: bool) -> dict[str, Any]:
    fields = body.model_dump(exclude_unset=exclude_unset)
    if fields.get("thresholds") is not None:
        fields["thresholds"] = {
            kind: {k: v for k, v in rule.items() if v is not None}
            for kind, rule in fields["thresholds"].items()
        }
    return fields


@router.post("", response_model=BankOut, status_code=201, responses=errors(409, *WRITE))
def create_bank(core: Core, _: Curator, body: BankIn) -> BankOut:
    fields = _bank_fields(body, exclude_unset=False)
    return BankOut.of(core.banks.create(**fields))


@router.get("/{name}", response_model=BankOut, responses=errors(404, 422))
def get_bank(core: Core, _: Curator, name: str) -> BankOut:
    return BankOut.of(core.banks.get(name))


@router.patch("/{name}", response_model=BankOut, responses=errors(404, 409, *WRITE))
def update_bank(core: Core, _: Curator, name: str, body: BankPatch) -> BankOut:
    changes = _bank_fields(body, exclude_unset=True)
    nullable = {key for key in changes if key.endswith("_min_quality")}
    if any(value is None for key, value in changes.items() if key not in nullable):
        raise HTTPException(422, "bank fields cannot be set to null")
    return BankOut.of(core.banks.update(name, **changes))


@router.delete("/{name}", status_code=204, responses=errors(404, 422, 503))
def delete_bank(core: Core, _: Curator, name: str) -> Response:
    core.banks.delete(name)
    return Response(status_code=204)


@router.get("/{name}/content", response_model=list[ContentOut], responses=errors(404, 422))
def list_content(
    core: Core,
    _: Curator,
    name: str,
    after_id: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[ContentOut]:
    found = core.banks.list_content(name, after_id=after_id, limit=limit)
    return [ContentOut.of(content) for content in found]


def _item(body: ContentIn) -> ContentItem:
    if body.hashes is not None and body.hash is not None:
        raise InvalidInput("give either kind and hash, or hashes, not both")
    given = body.hashes if body.hashes is not None else []
    if body.hash is not None:
        given = [HashIn(kind=body.kind, hash=body.hash)]
    if not given:
        raise InvalidInput("give a hash (with its kind), or a list of hashes")
    hashes = []
    for number, entry in enumerate(given):
        hasher = get_hasher(entry.kind)
        try:
            value = hasher.validate(entry.hash)
        except InvalidInput as error:
            raise InvalidInput(f"hashes[{number}]: {error.message}") from None
        hashes.append(ItemHash(hasher.name, value, entry.quality, entry.seconds))
    media = "video" if any(h.seconds is not None for h in hashes) else None
    return ContentItem(tuple(hashes), body.external_id, tuple(body.labels), media)


@router.post(
    "/{name}/content",
    response_model=ImportOut,
    status_code=201,
    responses=errors(404, *WRITE),
)
def add_content(core: Core, token: Curator, name: str, body: ContentIn) -> ImportOut:
    """Add one content item with one hash (`kind`, `hash`) or several (`hashes`)."""
    summary = core.banks.add_content(
        name, [_item(body)], added_by=token.name or f"token:{token.id}"
    )
    return ImportOut.of(summary)


@router.post(
    "/{name}/content/media",
    response_model=ImportOut,
    status_code=201,
    responses=errors(404, *WRITE),
)
async def add_media(
    core: Core,
    token: Curator,
    name: str,
    file: Annotated[UploadFile, File()],
    external_id: Annotated[str | None, Query(max_length=512)] = None,
) -> ImportOut:
    """Hash an uploaded photo or video and add it to the bank: a photo's PDQ, MD5 and
    SHA-256; a video's MD5, SHA-256 and PDQ of its frames (with quality and time). Uploads
    here are limited to LYKTA_MAX_UPLOAD_BYTES; send larger videos to `/content/stream`."""
    data = await read_upload(core, file)
    ident = external_id or (file.filename or "").rsplit(".", 1)[0] or None
    if not external_id and ident is not None:
        problem = (
            f"is longer than {MAX_EXTERNAL_ID} characters"
            if len(ident) > MAX_EXTERNAL_ID
            else text_problem(ident)
        )
        if problem:
            raise HTTPException(
                422,
                f"the file name {_shown(ident)} cannot be the external id: it {problem}; "
                "pass external_id= instead",
            )
    added = await run_in_threadpool(
        core.add_media, name, data, external_id=ident, added_by=token.name or f"token:{token.id}"
    )
    return ImportOut.of(added.summary)


@router.post(
    "/{name}/content/stream",
    response_model=ImportOut,
    status_code=201,
    responses=errors(404, *WRITE),
    openapi_extra=RAW_BODY,
)
async def add_streamed_media(
    request: Request,
    core: Core,
    token: Curator,
    name: str,
    external_id: Annotated[str | None, Query(max_length=512)] = None,
) -> ImportOut:
    """Add a photo or video sent as the raw request body (a video of gigabytes, up to
    LYKTA_MAX_STREAM_UPLOAD_BYTES). The body is written to a file in the data folder as it
    arrives and hashed from there, so it is never held in memory."""
    await run_in_threadpool(core.banks.get, name)  # a missing bank before gigabytes arrive
    async with spooled_upload(request, core) as spooled:
        added = await run_in_threadpool(
            partial(core.add_media, external_id=external_id, added_by=_added_by(token)),
            name,
            spooled.file,
        )
    return ImportOut.of(added.summary)


def _added_by(token: TokenInfo) -> str:
    return token.name or f"token:{token.id}"


@router.get("/{name}/content/{content_id}", response_model=ContentOut, responses=errors(404, 422))
def get_content(core: Core, _: Curator, name: str, content_id: ContentId) -> ContentOut:
    return ContentOut.of(core.banks.get_content(name, content_id))


@router.delete("/{name}/content/{content_id}", status_code=204, responses=errors(404, 422, 503))
def delete_content(core: Core, _: Curator, name: str, content_id: ContentId) -> Response:
    core.banks.remove_content(name, [content_id])
    return Response(status_code=204)


@router.post("/{name}/import", response_model=ImportOut, responses=errors(404, *WRITE))
async def import_file(
    core: Core,
    token: Curator,
    name: str,
    file: Annotated[UploadFile, File()],
    format: ImportFormat = None,
    kind: Annotated[str, Query()] = "pdq",
    skip_invalid: bool = False,
) -> ImportOut:
    """Import a hash list in one transaction: a bad line aborts it unless skip_invalid. The
    format, unless given, is the file name's, as `lykta bank import` reads it."""
    fmt = get_format(format or guess_format(file.filename or ""))
    kind = get_hasher(kind.strip().lower()).name
    data = await read_upload(core, file)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise HTTPException(422, "hash list is not UTF-8 text") from None
    summary = await run_in_threadpool(
        core.banks.import_parsed,
        name,
        # Universal newlines, as the CLI reads files: CR-only (old Mac) lists are one line
        # otherwise.
        fmt.parse(io.StringIO(text, newline=None), kind, file_stem(file.filename or "")),
        source=file.filename or "upload",
        skip_invalid=skip_invalid,
        added_by=token.name or f"token:{token.id}",
    )
    return ImportOut.of(summary)


@router.get(
    "/{name}/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "the hash list, streamed",
            "content": {"text/csv": {"schema": {"type": "string"}}, "text/plain": {}},
            "headers": {
                SKIPPED_HEADER: {
                    "description": "what the format left out, when it cannot hold every kind",
                    "schema": {"type": "string"},
                }
            },
        },
        **errors(404, 422),
    },
)
def export_bank(core: Core, _: Curator, name: str, format: FormatName = "csv") -> StreamingResponse:
    fmt = get_format(format)
    skipped = skipped_kinds(fmt, core.banks.kind_counts(name))

    def chunks() -> Iterator[str]:
        # Group lines so a large bank streams in reasonably sized writes.
        batch: list[str] = []
        for line in fmt.render(core.banks.export(name)):
            batch.append(line)
            if len(batch) >= 5_000:
                yield "".join(batch)
                batch = []
        yield "".join(batch)

    media = "text/csv" if format == "csv" else "text/plain"
    headers = {"Content-Disposition": f'attachment; filename="{export_filename(name, format)}"'}
    if skipped:
        headers[SKIPPED_HEADER] = describe_skipped(fmt, skipped)
    return StreamingResponse(chunks(), media_type=media, headers=headers)
