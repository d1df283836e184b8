"""Hash content and look it up: by upload, by hash, in batches."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, HTTPException, Query, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from lykta.api.deps import Core, Matcher, read_upload
from lykta.api.schemas import (
    BatchLookupIn,
    BatchLookupOut,
    BatchResultOut,
    ContentLookupOut,
    errors,
)
from lykta.outputs import HashesOut, LookupOut

router = APIRouter(prefix="/api/v1", tags=["matching"], responses=errors(401, 422))
# A body may be unparseable (400) or too large (413).
BODY = (400, 413)

Banks = Annotated[list[str] | None, Query(alias="bank", description="only these banks")]
Dihedral = Annotated[bool | None, Query(description="also try all rotations and flips")]
Trim = Annotated[bool | None, Query(description="also try with uniform borders trimmed")]
LocalFeatures = Annotated[
    bool,
    Query(
        description="where PDQ matches nothing, try the second path: the photo inside a "
        "screenshot, and local features for banks that enable them"
    ),
]


@router.post("/hash", response_model=HashesOut, responses=errors(*BODY))
async def hash_upload(
    core: Core,
    _: Matcher,
    file: Annotated[UploadFile, File()],
    dihedral: Dihedral = None,
    trim: Trim = None,
) -> HashesOut:
    data = await read_upload(core, file)
    # Decoding and hashing take milliseconds to seconds: keep them off the event loop.
    hashes = await run_in_threadpool(core.hash_photo, data, dihedral=dihedral, trim=trim)
    return HashesOut.of(hashes)


@router.post("/lookup", response_model=ContentLookupOut, responses=errors(404, *BODY))
async def lookup_upload(
    core: Core,
    _: Matcher,
    file: Annotated[UploadFile, File()],
    bank: Banks = None,
    dihedral: Dihedral = None,
    trim: Trim = None,
    local_features: LocalFeatures = True,
) -> ContentLookupOut:
    data = await read_upload(core, file)
    found = await run_in_threadpool(
        core.lookup_photo,
        data,
        banks=bank,
        dihedral=dihedral,
        trim=trim,
        local_features=local_features,
    )
    return ContentLookupOut(
        hashes=HashesOut.of(found.hashes), **LookupOut.of(found.result).model_dump()
    )


@router.get("/lookup", response_model=LookupOut, responses=errors(404))
async def lookup_hash(
    core: Core,
    _: Matcher,
    hash: Annotated[str, Query(description="the hash, in hex")],
    kind: Annotated[str, Query(description="pdq, md5 or sha256")] = "pdq",
    bank: Banks = None,
    quality: Annotated[int | None, Query(ge=0, le=100)] = None,
) -> Response:
    # The hottest route: answered on the event loop when memory suffices (no thread hop),
    # in a worker thread when a candidate's owner must be read from the database.
    found = core.lookup_hash_in_memory(kind, hash, banks=bank, quality=quality)
    if found is None:
        found = await run_in_threadpool(core.lookup_hash, kind, hash, banks=bank, quality=quality)
    # Serialised once, skipping FastAPI's re-validation of the model.
    return Response(LookupOut.of(found).model_dump_json(), media_type="application/json")


@router.post("/lookup/batch", response_model=BatchLookupOut, responses=errors(404, *BODY))
def lookup_batch(core: Core, _: Matcher, body: BatchLookupIn) -> BatchLookupOut:
    if len(body.hashes) > core.settings.max_batch_hashes:
        raise HTTPException(
            413,
            f"at most {core.settings.max_batch_hashes} hashes per batch (LYKTA_MAX_BATCH_HASHES)",
        )
    found = core.lookup_hashes(
        [(item.kind.lower(), item.hash, item.quality) for item in body.hashes], banks=body.banks
    )
    results = [
        BatchResultOut(kind=item.kind, hash=item.hash, **LookupOut.of(result).model_dump())
        for item, result in zip(body.hashes, found, strict=True)
    ]
    return BatchLookupOut(results=results)
