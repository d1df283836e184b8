"""What HMA's blueprints share: signal type names, parameter parsing, bodies and hashing."""

from __future__ import annotations

import contextlib
import io
import json
import random
from typing import Annotated, Any, BinaryIO, cast

from fastapi import Path as PathParam
from fastapi import Query, Request
from fastapi import UploadFile as FastAPIUploadFile
from starlette.datastructures import FormData, UploadFile

from lykta.api.deps import read_upload
from lykta.api.hma.errors import HmaError
from lykta.app import Lykta, is_video
from lykta.banks.formats import vpdq_signal
from lykta.banks.items import ItemHash
from lykta.errors import InvalidInput, MediaError
from lykta.hashing.base import MediaKind
from lykta.hashing.registry import from_foreign, get_hasher, hashers
from lykta.hashing.video import VideoHashes
from lykta.media.fetch import fetch_url

# python-threatexchange's video signal (its vpdq extension, which HMA enables for video):
# a video's sampled frames, each a PDQ with its quality and time, as one JSON list. It is no
# Lykta hash kind of its own: its frames are PDQ hashes, looked up as a video.
VPDQ = "vpdq"
# HMA's content types and the signal types HMA hashes for each by default. Which other names
# are allowed, and which Lykta kind each names, come from the hash kinds'
# `foreign_names["hma"]`.
DEFAULT_SIGNALS = {"photo": ("pdq",), "video": ("video_md5", VPDQ)}
# HMA's own signal types are each for one content type; the names Lykta adds ("md5",
# "sha256") apply to whatever the hash kind hashes.
HMA_CONTENT_TYPES = {"pdq": "photo", "video_md5": "video", VPDQ: "video"}
# vPDQ's sampling: one frame a second, as given (python-threatexchange's `hash_from_file`).
VPDQ_SECONDS_PER_HASH = 1.0

# JSON bodies (`{signal_type: hash}`, metadata) are small; media comes as multipart.
JSON_BODY_LIMIT = 1024 * 1024

Banks = Annotated[str | None, Query(description="comma-separated bank names to restrict to")]
Types = Annotated[str | None, Query(description="comma-separated signal types to hash")]
ContentId = Annotated[int, PathParam(ge=0, le=2**63 - 1)]


def signal_kind(name: str) -> str:
    """The Lykta kind HMA's signal type ``name`` stands for (PDQ for vPDQ's frames)."""
    if name == VPDQ:
        return "pdq"
    try:
        return from_foreign("hma", name).name
    except InvalidInput:
        raise HmaError(400, f"No such SignalType '{name}'") from None


def signal_name(kind: str) -> str:
    """The name HMA gives Lykta's kind ``kind``."""
    return get_hasher(kind).foreign_name("hma")


def signal_names_of_index() -> list[str]:
    # Local features are Lykta's own second path, not a signal type HMA peers exchange.
    return [hasher.foreign_name("hma") for hasher in hashers() if not hasher.local_features]


def allowed_signals(content_type: str) -> set[str]:
    """Signal types that can be computed from ``content_type``'s bytes."""
    video_signals = {VPDQ} if content_type == HMA_CONTENT_TYPES[VPDQ] else set()
    return video_signals | {
        name
        for hasher in hashers()
        if hasher.media_kind in (MediaKind.ANY, content_type) and not hasher.local_features
        for name in hasher.foreign_names.get("hma", (hasher.name,))
        if HMA_CONTENT_TYPES.get(name, content_type) == content_type
    }


def bank_list(banks: str | None) -> list[str] | None:
    if not banks:
        return None
    return [b.strip() for b in banks.split(",") if b.strip()] or None


def coinflip_banks(
    core: Lykta, banks: list[str] | None, seed: str | None, bypass_coinflip: bool
) -> list[str] | None:
    """HMA's partial matching: one coin flip per look-up (repeatable with `seed`) leaves out
    every bank whose `enabled_ratio` is below it, unless `bypass_coinflip`."""
    partial = core.matcher.partial_banks()
    if bypass_coinflip or not partial:
        return banks
    flip = random.Random(seed).random()
    left_out = {name for name, ratio in partial.items() if ratio < flip}
    if not left_out:
        return banks
    names = banks if banks is not None else sorted(core.matcher.bank_names())
    return [name for name in names if name not in left_out]


def content_type_named(name: str) -> str:
    if name not in DEFAULT_SIGNALS:
        raise HmaError(400, f"no such content_type: '{name}'")
    return name


def signal_names(content_type: str, types: str | None) -> list[str]:
    if types is None:
        return list(DEFAULT_SIGNALS[content_type])
    names = list(dict.fromkeys(t.strip() for t in types.split(",") if t.strip()))
    for name in names:
        if name not in allowed_signals(content_type):
            raise HmaError(400, f"signal type '{name}' doesn't exist or is disabled")
    if not names:
        raise HmaError(400, "empty signal type selection")
    return names


def parse_bool(text: str) -> bool:
    if text.lower() in ("true", "1"):
        return True
    if text.lower() in ("false", "0"):
        return False
    raise HmaError(400, "invalid boolean parameter - prefer true/false")


def hash_signals(core: Lykta, data: bytes, names: list[str], *, vpdq_asked: bool) -> dict[str, str]:
    """HMA's `{signal_type: hash}` of one file (decoded only for PDQ and vPDQ). A file that
    cannot be decoded as a video has no vPDQ: refused when ``vpdq_asked`` by name, else left
    out (see ``undecodable_video``)."""
    if VPDQ in names:
        try:
            video = core.hash_video(video_file(data), interval=VPDQ_SECONDS_PER_HASH, mirror=False)
        except MediaError as error:
            names = undecodable_video(names, error, vpdq_asked)
        else:
            digests = {"md5": video.md5, "sha256": video.sha256}
            return {
                name: vpdq_of(video) if name == VPDQ else digests[signal_kind(name)]
                for name in names
            }
    kinds = {name: signal_kind(name) for name in names}
    hashes = core.hash_media(data, kinds.values())
    return {name: hashes[kind] for name, kind in kinds.items()}


def undecodable_video(names: list[str], error: MediaError, vpdq_asked: bool) -> list[str]:
    """The signal types left for a file that cannot be decoded as a video. HMA's video MD5
    hashes any bytes (HMA's own tests send text as a `video`), so vPDQ, hashed by default,
    is left out; asked for by name (`types=`), it is an error saying why."""
    if vpdq_asked:
        raise HmaError(400, f"cannot compute the vpdq signal: {error.message}")
    return [name for name in names if name != VPDQ]


def vpdq_of(video: VideoHashes) -> str:
    """A hashed video's vPDQ signal: each sampled frame as given (not trimmed or mirrored)."""
    return vpdq_signal(
        ItemHash("pdq", frame.pdq, frame.quality, frame.seconds) for frame in video.frames
    )


def video_file(data: bytes) -> BinaryIO:
    """Uploaded bytes as a video file to hash; a MediaError when no video container is
    recognised."""
    if not is_video(data):
        raise MediaError("the file is not a video (no video container was recognised)")
    return io.BytesIO(data)


async def read_form_file(core: Lykta, form: FormData) -> tuple[str, bytes] | None:
    """The one uploaded file, named by its content type (`photo` or `video`) as HMA wants."""
    files = [(key, value) for key, value in form.multi_items() if isinstance(value, UploadFile)]
    if not files:
        return None
    if len(files) > 1:
        raise HmaError(400, "Only one file allowed per request")
    field, upload = files[0]
    content_type = content_type_named(field)
    return content_type, await read_upload(core, cast(FastAPIUploadFile, upload))


async def read_form(request: Request) -> FormData:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise HmaError(400, "Missing multipart/form-data file upload")
    return await request.form(max_files=2, max_fields=100)


async def read_json_body(request: Request) -> Any:
    """The request's JSON body (None when empty), read no further than JSON_BODY_LIMIT."""
    too_big = HmaError(413, f"request body is larger than {JSON_BODY_LIMIT} bytes")
    with contextlib.suppress(ValueError):
        if int(request.headers.get("content-length", "0")) > JSON_BODY_LIMIT:
            raise too_big
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > JSON_BODY_LIMIT:
            raise too_big
    try:
        return json.loads(body or b"null")
    except ValueError:
        raise HmaError(400, "request body is not valid JSON") from None
    except RecursionError:
        raise HmaError(400, "request body is not valid JSON: nested too deeply") from None


def _url_content_type(content_type: str | None, mime: str) -> str:
    if content_type:
        return content_type_named(content_type)
    if mime.lower().startswith("image"):
        return "photo"
    if mime.lower().startswith("video"):
        return "video"
    raise HmaError(
        400,
        f"unsupported url ContentType: '{mime}', if you know the expected type, "
        "provide it with the content_type query param",
    )


async def fetch_for_hashing(
    core: Lykta, url: str, content_type: str | None, types: str | None
) -> tuple[bytes, list[str]]:
    """Fetch media by URL (as LYKTA_HMA_FETCH_URLS allows): its bytes and the signal types
    to hash, chosen by its content type."""
    if content_type:
        content_type_named(content_type)  # a bad name is refused before anything is fetched
    data, mime = await fetch_url(
        url, allow=core.settings.hma_fetch_urls, max_bytes=core.settings.max_upload_bytes
    )
    kind = _url_content_type(content_type, mime)
    return data, signal_names(kind, types)
