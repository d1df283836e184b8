"""Banks, bank content, import and export."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, File, HTTPException, Path, Query, Response, UploadFile
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from lykta.api.deps import Core, Curator, read_upload
from lykta.api.schemas import BankIn, BankPatch, ContentIn
from lykta.banks.formats import (
    FORMATS,
    MAX_EXTERNAL_ID,
    ParsedHash,
    get_format,
    text_problem,
)
from lykta.hashing.registry import get_hasher
from lykta.outputs import BankOut, ContentOut, ImportOut

router = APIRouter(prefix="/api/v1/banks", tags=["banks"])

ContentId = Annotated[int, Path(ge=1, le=2**63 - 1, description="bank content id")]
FormatName = Annotated[str, Query(description=f"one of: {', '.join(FORMATS)}")]


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:40]) + "..."


@router.get("", response_model=list[BankOut])
def list_banks(core: Core, _: Curator) -> list[BankOut]:
    return [BankOut.model_validate(bank) for bank in core.banks.list()]


@router.post("", response_model=BankOut, status_code=201)
def create_bank(core: Core, _: Curator, body: BankIn) -> BankOut:
    return BankOut.model_validate(core.banks.create(**body.model_dump()))


@router.get("/{name}", response_model=BankOut)
def get_bank(core: Core, _: Curator, name: str) -> BankOut:
    return BankOut.model_validate(core.banks.get(name))


@router.patch("/{name}", response_model=BankOut)
def update_bank(core: Core, _: Curator, name: str, body: BankPatch) -> BankOut:
    changes = body.model_dump(exclude_unset=True)
    if any(value is None for value in changes.values()):
        raise HTTPException(422, "bank fields cannot be set to null")
    core.banks.update(name, **changes)
    return BankOut.model_validate(core.banks.get(changes.get("name", name)))


@router.delete("/{name}", status_code=204)
def delete_bank(core: Core, _: Curator, name: str) -> Response:
    core.banks.delete(name)
    return Response(status_code=204)


@router.get("/{name}/content", response_model=list[ContentOut])
def list_content(
    core: Core,
    _: Curator,
    name: str,
    after_id: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[ContentOut]:
    return [ContentOut.of(c) for c in core.banks.list_content(name, after_id=after_id, limit=limit)]


@router.post("/{name}/content", response_model=ImportOut, status_code=201)
def add_content(core: Core, token: Curator, name: str, body: ContentIn) -> ImportOut:
    hasher = get_hasher(body.kind)
    parsed = ParsedHash(
        hasher.name, hasher.validate(body.hash), body.external_id, tuple(body.labels)
    )
    return ImportOut.of(
        core.banks.add_hashes(name, [parsed], added_by=token.name or f"token:{token.id}")
    )


@router.post("/{name}/content/media", response_model=ImportOut, status_code=201)
async def add_media(
    core: Core,
    token: Curator,
    name: str,
    file: Annotated[UploadFile, File()],
    external_id: Annotated[str | None, Query(max_length=512)] = None,
) -> ImportOut:
    """Hash an uploaded photo and add its PDQ, MD5 and SHA-256 to the bank."""
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


@router.get("/{name}/content/{content_id}", response_model=ContentOut)
def get_content(core: Core, _: Curator, name: str, content_id: ContentId) -> ContentOut:
    return ContentOut.of(core.banks.get_content(name, content_id))


@router.delete("/{name}/content/{content_id}", status_code=204)
def delete_content(core: Core, _: Curator, name: str, content_id: ContentId) -> Response:
    core.banks.remove_content(name, [content_id])
    return Response(status_code=204)


@router.post("/{name}/import", response_model=ImportOut)
async def import_file(
    core: Core,
    token: Curator,
    name: str,
    file: Annotated[UploadFile, File()],
    format: FormatName = "text",
    kind: Annotated[str, Query()] = "pdq",
    skip_invalid: bool = False,
) -> ImportOut:
    """Import a hash list in one transaction: a bad line aborts it unless skip_invalid."""
    fmt = get_format(format)
    kind = get_hasher(kind.strip().lower()).name
    data = await read_upload(core, file)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise HTTPException(422, "hash list is not UTF-8 text") from None
    summary = await run_in_threadpool(
        core.banks.import_parsed,
        name,
        fmt.parse(io.StringIO(text), kind),
        source=file.filename or "upload",
        skip_invalid=skip_invalid,
        added_by=token.name or f"token:{token.id}",
    )
    return ImportOut.of(summary)


@router.get("/{name}/export")
def export_bank(core: Core, _: Curator, name: str, format: FormatName = "csv") -> StreamingResponse:
    fmt = get_format(format)
    core.banks.get(name)

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
    suffix = "csv" if format == "csv" else "txt"
    return StreamingResponse(
        chunks(),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}.{suffix}"'},
    )
