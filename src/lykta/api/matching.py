"""Hash content and look it up: by upload, by hash, in batches."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Annotated, BinaryIO

from fastapi import APIRouter, Depends, File, HTTPException, Query, Request, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from lykta.alerts import MatchSource
from lykta.api.deps import RAW_BODY, Core, Matcher, read_upload, spooled_upload
from lykta.api.schemas import (
    BatchLookupIn,
    BatchLookupOut,
    BatchResultOut,
    ContentLookupOut,
    errors,
)
from lykta.app import Lykta, is_video
from lykta.errors import InvalidInput
from lykta.outputs import HashesOut, LookupOut, VideoHashesOut

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
        "screenshot, and local features (of a video's key frames) for banks that enable them"
    ),
]
Record = Annotated[
    bool, Query(description="record the matches as alerts about `subject`, for review")
]
Subject = Annotated[
    str | None,
    Query(
        description="the platform's account id the content came from (with record=true)",
        max_length=512,
    ),
]
SourceId = Annotated[
    str | None,
    Query(
        description="the platform's id of the upload (with record=true; default: its hash)",
        max_length=512,
    ),
]


def recording(record: bool, subject: str | None, source_id: str | None) -> MatchSource | None:
    """What `record`, `subject` and `source_id` ask for: alerts about the subject, or none."""
    if not record:
        if subject is not None or source_id is not None:
            raise InvalidInput("subject and source_id are only used with record=true")
        return None
    if subject is None:
        raise InvalidInput("record=true needs a subject (the platform's account id)")
    return MatchSource(subject, source_id or "")


@dataclass(frozen=True, slots=True)
class ContentQuery:
    """What a look-up of uploaded content asks for, read from its query string (the same
    for an upload in a form and for one streamed as the body)."""

    banks: list[str] | None
    dihedral: bool | None
    trim: bool | None
    local_features: bool
    source: MatchSource | None


def content_query(
    bank: Banks = None,
    dihedral: Dihedral = None,
    trim: Trim = None,
    local_features: LocalFeatures = True,
    record: Record = False,
    subject: Subject = None,
    source_id: SourceId = None,
) -> ContentQuery:
    return ContentQuery(bank, dihedral, trim, local_features, recording(record, subject, source_id))


ContentOptions = Annotated[ContentQuery, Depends(content_query)]


# The look-up that takes the file as the raw body, spooled to disk (a video of gigabytes).
STREAMED_LOOKUP = "/api/v1/lookup/stream"


@router.post("/hash", response_model=HashesOut | VideoHashesOut, responses=errors(*BODY))
async def hash_upload(
    core: Core,
    _: Matcher,
    file: Annotated[UploadFile, File()],
    dihedral: Dihedral = None,
    trim: Trim = None,
) -> HashesOut | VideoHashesOut:
    """Hash an uploaded photo, or a video (told by its container) as `lykta hash` does: its
    digests, duration and the PDQ of a frame every LYKTA_VIDEO_CHECK_INTERVAL seconds."""
    data = await read_upload(core, file)
    if is_video(data):
        video = await run_in_threadpool(core.hash_video, io.BytesIO(data), mirror=False)
        return VideoHashesOut.of(video)
    # Decoding and hashing take milliseconds to seconds: keep them off the event loop.
    hashes = await run_in_threadpool(core.hash_photo, data, dihedral=dihedral, trim=trim)
    return HashesOut.of(hashes)


@router.post("/lookup", response_model=ContentLookupOut, responses=errors(404, *BODY))
async def lookup_upload(
    core: Core, _: Matcher, file: Annotated[UploadFile, File()], query: ContentOptions
) -> ContentLookupOut:
    """Hash an uploaded photo or video and look it up. A video (told by its container) is
    sampled as LYKTA_VIDEO_CHECK_INTERVAL says and its matches carry `query_share`,
    `bank_share` and `segments`; `dihedral` and `trim` apply to photos. Uploads here are
    limited to LYKTA_MAX_UPLOAD_BYTES; send larger videos to `/lookup/stream`."""
    data = await read_upload(core, file)
    if is_video(data):
        return await run_in_threadpool(_lookup_video, core, io.BytesIO(data), query)
    return await run_in_threadpool(_lookup_photo, core, data, query)


@router.post(
    "/lookup/stream",
    response_model=ContentLookupOut,
    responses=errors(404, *BODY),
    openapi_extra=RAW_BODY,
)
async def lookup_streamed(
    request: Request, core: Core, _: Matcher, query: ContentOptions
) -> ContentLookupOut:
    """`POST /lookup` for a photo or video sent as the raw request body (a video of
    gigabytes, up to LYKTA_MAX_STREAM_UPLOAD_BYTES; a photo up to LYKTA_MAX_UPLOAD_BYTES).
    The body is written to a file in the data folder as it arrives and hashed from there,
    so it is never held in memory."""
    for name in query.banks or ():
        await run_in_threadpool(core.banks.get, name)  # a misspelt bank before gigabytes arrive
    async with spooled_upload(request, core) as spooled:
        if spooled.is_video:
            return await run_in_threadpool(_lookup_video, core, spooled.file, query)
        data = await run_in_threadpool(spooled.file.read)
    return await run_in_threadpool(_lookup_photo, core, data, query)


def _lookup_photo(core: Lykta, data: bytes, query: ContentQuery) -> ContentLookupOut:
    found = core.lookup_photo(
        data,
        banks=query.banks,
        dihedral=query.dihedral,
        trim=query.trim,
        local_features=query.local_features,
        source=query.source,
    )
    return ContentLookupOut(
        hashes=HashesOut.of(found.hashes), **LookupOut.of(found.result).model_dump()
    )


def _lookup_video(core: Lykta, video: BinaryIO, query: ContentQuery) -> ContentLookupOut:
    hashes = core.hash_video(video, local_features=query.local_features, banks=query.banks)
    result = core.lookup_video(
        hashes, banks=query.banks, source=query.source, local_features=query.local_features
    )
    if query.source is not None and result.matches:
        core.evidence.keep_upload(video, max_bytes=core.settings.max_upload_bytes)
    return ContentLookupOut(hashes=VideoHashesOut.of(hashes), **LookupOut.of(result).model_dump())


@router.get("/lookup", response_model=LookupOut, responses=errors(404))
async def lookup_hash(
    core: Core,
    _: Matcher,
    hash: Annotated[str, Query(description="the hash, in hex")],
    kind: Annotated[str, Query(description="pdq, md5 or sha256")] = "pdq",
    bank: Banks = None,
    quality: Annotated[int | None, Query(ge=0, le=100)] = None,
    record: Record = False,
    subject: Subject = None,
    source_id: SourceId = None,
) -> Response:
    source = recording(record, subject, source_id)
    # The hottest route: a look-up reads memory only, so it is answered on the event loop
    # (no thread hop); in a worker thread only when an alert is to be written.
    if source is None:
        found = core.lookup_hash(kind, hash, banks=bank, quality=quality)
    else:
        found = await run_in_threadpool(
            core.lookup_hash, kind, hash, banks=bank, quality=quality, source=source
        )
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
        [(item.kind.lower(), item.hash, item.quality) for item in body.hashes],
        banks=body.banks,
        source=recording(body.record, body.subject, None),
    )
    results = [
        BatchResultOut(kind=item.kind, hash=item.hash, **LookupOut.of(result).model_dump())
        for item, result in zip(body.hashes, found, strict=True)
    ]
    return BatchLookupOut(results=results)
