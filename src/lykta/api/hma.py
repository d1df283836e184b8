"""HMA-compatible routes: a client written for Meta's hasher-matcher-actioner (OpenMediaMatch),
such as ROOST Coop, can point at Lykta instead.

Paths, parameters, bodies, response shapes and status codes follow HMA's `/h`, `/m` and `/c`
blueprints; errors carry HMA's `{"message": ...}` (and Lykta's `detail`). Unlike HMA every
route needs a bearer token: matcher scope for hashing and look-ups, curator scope for `/c`.
Media is fetched by URL only when `LYKTA_HMA_FETCH_URLS` allows it. See docs/hma.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import json
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated, Any, cast
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam
from fastapi import UploadFile as FastAPIUploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from lykta.api.deps import Core, Curator, Matcher, read_upload
from lykta.app import Lykta, queries_for_photo
from lykta.auth.tokens import TokenInfo
from lykta.banks.formats import ParsedHash
from lykta.banks.matcher import LookupResult, Match, QueryHash
from lykta.banks.service import BankInfo
from lykta.errors import Conflict, LyktaError, NotFound
from lykta.hashing.registry import get_hasher

# HMA signal type name -> Lykta hash kind. HMA's only MD5 signal type is "video_md5" (an MD5
# of the file bytes); "md5" and Lykta's "sha256" are accepted as extensions.
SIGNAL_KINDS = {"pdq": "pdq", "video_md5": "md5", "md5": "md5", "sha256": "sha256"}
# Lykta hash kind -> the HMA name it is reported under where no name was asked for.
KIND_SIGNALS = {"pdq": "pdq", "md5": "video_md5", "sha256": "sha256"}
# HMA content types: the signal types hashed by default (as HMA does), and all allowed.
DEFAULT_SIGNALS = {"photo": ("pdq",), "video": ("video_md5",)}
ALLOWED_SIGNALS = {"photo": ("pdq", "md5", "sha256"), "video": ("video_md5", "md5", "sha256")}

FETCH_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
FETCH_MAX_REDIRECTS = 5
# The whole fetch (resolving, connecting, every redirect and the body) must end within this,
# so a server that drips bytes slower than the read timeout cannot hold a request for hours.
FETCH_DEADLINE = 60.0
# IPv6 ranges that carry an IPv4 address: NAT64's well-known prefix (RFC 6052) holds it in the
# last 32 bits. NAT64's local-use prefix (RFC 8215) places it by the operator's prefix length,
# and IPv4-compatible addresses (deprecated, RFC 4291) have no public use: both are refused.
NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
# JSON bodies (`{signal_type: hash}`, metadata) are small; media comes as multipart.
JSON_BODY_LIMIT = 1024 * 1024


class HmaError(Exception):
    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"message": message, "detail": message}, status, headers=headers)


class HmaRoute(APIRoute):
    """Answers errors the way HMA does: `{"message": ...}`, 400 for bad input, 403 for a bank
    name already taken (HMA's choice), never a 500 for the caller's mistake."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except HmaError as error:
                return _error(error.status_code, error.message)
            except StarletteHTTPException as error:
                return _error(error.status_code, str(error.detail), error.headers)
            except RequestValidationError as error:
                problems = []
                for item in error.errors():
                    where = ".".join(str(p) for p in item.get("loc", ()) if p not in ("body",))
                    problems.append(
                        f"{where}: {item.get('msg')}" if where else str(item.get("msg"))
                    )
                return _error(400, "; ".join(problems) or "bad request")
            except Conflict as error:
                return _error(403, error.message)
            except LyktaError as error:
                status = 400 if error.status_code == 422 else error.status_code
                return _error(status, error.message)

        return guarded


router = APIRouter(tags=["hma"], route_class=HmaRoute)

Banks = Annotated[str | None, Query(description="comma-separated bank names to restrict to")]
Types = Annotated[str | None, Query(description="comma-separated signal types to hash")]
ContentId = Annotated[int, PathParam(ge=0, le=2**63 - 1)]


# --- helpers -------------------------------------------------------------------------------


def _signal_kind(name: str) -> str:
    kind = SIGNAL_KINDS.get(name)
    if kind is None:
        raise HmaError(400, f"No such SignalType '{name}'")
    return kind


def _bank_list(banks: str | None) -> list[str] | None:
    if not banks:
        return None
    return [b.strip() for b in banks.split(",") if b.strip()] or None


def _known(core: Lykta, banks: list[str] | None) -> list[str] | None:
    """HMA ignores bank names it does not know, so a filter of only those matches nothing
    (Lykta's own API answers 404 instead)."""
    if banks is None:
        return None
    known = set(core.banks.names())
    return [bank for bank in banks if bank in known]


def _content_type(name: str) -> str:
    if name not in DEFAULT_SIGNALS:
        raise HmaError(400, f"no such content_type: '{name}'")
    return name


def _signal_names(content_type: str, types: str | None) -> list[str]:
    if types is None:
        return list(DEFAULT_SIGNALS[content_type])
    names = list(dict.fromkeys(t.strip() for t in types.split(",") if t.strip()))
    for name in names:
        if name not in ALLOWED_SIGNALS[content_type]:
            raise HmaError(400, f"signal type '{name}' doesn't exist or is disabled")
    if not names:
        raise HmaError(400, "empty signal type selection")
    return names


def _bool(text: str) -> bool:
    if text.lower() in ("true", "1"):
        return True
    if text.lower() in ("false", "0"):
        return False
    raise HmaError(400, "invalid boolean parameter - prefer true/false")


def _hash_media(core: Lykta, content_type: str, data: bytes, names: list[str]) -> dict[str, str]:
    """HMA's `{signal_type: hash}` of one file (photos are decoded only for PDQ)."""
    out: dict[str, str] = {}
    pdq = core.hash_photo(data, dihedral=False, trim=False).pdq if "pdq" in names else None
    for name in names:
        kind = SIGNAL_KINDS[name]
        if kind == "pdq":
            out[name] = cast(str, pdq)
        elif kind == "md5":
            out[name] = hashlib.md5(data, usedforsecurity=False).hexdigest()
        else:
            out[name] = hashlib.sha256(data).hexdigest()
    return out


def _by_bank(matches: Iterable[Match]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for match in matches:
        out.setdefault(match.bank, []).append(
            {"bank_content_id": match.content_id, "distance": str(match.distance)}
        )
    return out


def _lookup_media(
    core: Lykta, content_type: str, data: bytes, names: list[str], banks: list[str] | None
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Hash and look up one file: `{signal_type: {bank: [match, ...]}}` as HMA answers.

    A photo's PDQ is looked up with all the variants Lykta's settings call for (rotations,
    flips, trimmed borders), so it finds at least what HMA would."""
    kinds = {SIGNAL_KINDS[name] for name in names}
    if "pdq" in kinds:
        photo = core.hash_photo(data)
        queries = [q for q in queries_for_photo(photo) if q.kind in kinds]
    else:
        hashes = _hash_media(core, content_type, data, names)
        queries = [QueryHash(SIGNAL_KINDS[n], bytes.fromhex(v)) for n, v in hashes.items()]
    banks = _known(core, banks)
    result = LookupResult() if banks == [] else core.matcher.lookup(queries, banks)
    return {
        name: _by_bank(m for m in result.matches if m.kind == SIGNAL_KINDS[name]) for name in names
    }


def _lookup_hash(
    core: Lykta, signal_type: str, signal: str, banks: list[str] | None
) -> list[Match]:
    kind = _signal_kind(signal_type)
    banks = _known(core, banks)
    if banks == []:
        get_hasher(kind).validate(signal)  # a bad hash is still a 400
        return []
    return core.lookup_hash(kind, signal, banks=banks).matches


async def _read_form_file(core: Lykta, form: FormData) -> tuple[str, bytes] | None:
    """The one uploaded file, named by its content type (`photo` or `video`) as HMA wants."""
    files = [(key, value) for key, value in form.multi_items() if isinstance(value, UploadFile)]
    if not files:
        return None
    if len(files) > 1:
        raise HmaError(400, "Only one file allowed per request")
    field, upload = files[0]
    content_type = _content_type(field)
    return content_type, await read_upload(core, cast(FastAPIUploadFile, upload))


async def _form(request: Request) -> FormData:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise HmaError(400, "Missing multipart/form-data file upload")
    return await request.form(max_files=2, max_fields=100)


async def _json_body(request: Request) -> Any:
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


# --- fetching by URL (off unless LYKTA_HMA_FETCH_URLS allows it) ------------------------------


def _fetch_policy(core: Lykta) -> tuple[bool, set[str]]:
    entries = {e.strip().lower() for e in core.settings.hma_fetch_urls.split(",") if e.strip()}
    return "public" in entries, entries - {"public"}


async def _resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as error:
        raise HmaError(400, f"cannot resolve host {host!r}: {error}") from None
    addresses = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        addresses.append(address)
    if not addresses:
        raise HmaError(400, f"cannot resolve host {host!r}")
    return addresses


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to: IPv4-mapped, 6to4, Teredo (server and
    client) and NAT64 (well-known prefix)."""
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    if address in NAT64_WELL_KNOWN:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether `address` may be fetched from without its host being listed: a global unicast
    address, and for IPv6 one that doesn't lead to a non-public IPv4 address (Python 3.11's
    `is_global` holds e.g. `64:ff9b::a9fe:a9fe` and `2002:a9fe:a9fe::` global)."""
    if not address.is_global or address.is_multicast:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        if address in NAT64_LOCAL_USE or address in IPV4_COMPATIBLE:
            return False
        return all(_is_public(v4) for v4 in _embedded_ipv4(address))
    return True


async def _fetch(core: Lykta, url: str) -> tuple[bytes, str]:
    """GET `url` within the limits: allowed hosts only, never a private address unless its
    host is listed by name, every redirect checked again, the connection pinned to the
    checked address (no DNS rebinding), the body cut at LYKTA_MAX_UPLOAD_BYTES, and all of
    it done within FETCH_DEADLINE."""
    public, hosts = _fetch_policy(core)
    if not public and not hosts:
        raise HmaError(
            403,
            "fetching media by URL is disabled on this server (it would let callers make it "
            "request arbitrary addresses); upload the file instead (POST with a multipart "
            "field named 'photo' or 'video') or have an admin set LYKTA_HMA_FETCH_URLS",
        )
    try:
        async with asyncio.timeout(FETCH_DEADLINE):
            return await _fetch_within(core, url, public, hosts)
    except TimeoutError:
        raise HmaError(
            400, f"fetching the url took longer than {FETCH_DEADLINE:g} s in all"
        ) from None


async def _fetch_within(core: Lykta, url: str, public: bool, hosts: set[str]) -> tuple[bytes, str]:
    limit = core.settings.max_upload_bytes
    async with httpx.AsyncClient(timeout=FETCH_TIMEOUT, follow_redirects=False) as client:
        for _ in range(FETCH_MAX_REDIRECTS + 1):
            try:
                parts = urlsplit(url)
            except ValueError as error:  # e.g. an unclosed or bad [IPv6] host
                raise HmaError(400, f"url is malformed ({error}): {url[:200]!r}") from None
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise HmaError(400, f"url must be http(s) with a host, got {url[:200]!r}")
            if parts.username or parts.password:
                raise HmaError(400, "url must not carry credentials")
            host = parts.hostname.lower()
            try:
                port = parts.port or (443 if parts.scheme == "https" else 80)
            except ValueError:
                raise HmaError(400, "url has a bad port") from None
            listed = host in hosts
            if not listed and not public:
                raise HmaError(403, f"host {host!r} is not in LYKTA_HMA_FETCH_URLS")
            addresses = await _resolve(host, port)
            # The address is left out of the message: it would tell callers about the
            # network the server sits in.
            if not listed and not all(_is_public(a) for a in addresses):
                raise HmaError(
                    403, f"host {host!r} is not allowed: it resolves to a non-public address"
                )
            address = addresses[0]
            shown = f"[{address}]" if address.version == 6 else str(address)
            pinned = urlunsplit(parts._replace(netloc=f"{shown}:{port}"))
            default_port = port == (443 if parts.scheme == "https" else 80)
            request = client.build_request(
                "GET",
                pinned,
                headers={"Host": host if default_port else f"{host}:{port}"},
                extensions={"sni_hostname": host} if parts.scheme == "https" else {},
            )
            try:
                response = await client.send(request, stream=True)
            except httpx.HTTPError as error:
                raise HmaError(400, f"fetching {host!r} failed: {type(error).__name__}") from None
            try:
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.status_code >= 400:
                    raise HmaError(400, f"fetching {host!r} failed: HTTP {response.status_code}")
                data = bytearray()
                try:
                    async for chunk in response.aiter_bytes():
                        data += chunk
                        if len(data) > limit:
                            raise HmaError(
                                413, f"media is larger than {limit} bytes (LYKTA_MAX_UPLOAD_BYTES)"
                            )
                except httpx.HTTPError as error:  # cut short, a read timeout, bad encoding
                    raise HmaError(
                        400, f"fetching {host!r} failed: {type(error).__name__}"
                    ) from None
                return bytes(data), response.headers.get("content-type", "")
            finally:
                await response.aclose()
    raise HmaError(400, f"more than {FETCH_MAX_REDIRECTS} redirects")


def _url_content_type(content_type: str | None, mime: str) -> str:
    if content_type:
        return _content_type(content_type)
    if mime.lower().startswith("image"):
        return "photo"
    if mime.lower().startswith("video"):
        return "video"
    raise HmaError(
        400,
        f"unsupported url ContentType: '{mime}', if you know the expected type, "
        "provide it with the content_type query param",
    )


async def _hash_url(
    core: Lykta, url: str, content_type: str | None, types: str | None
) -> tuple[str, bytes, list[str]]:
    if content_type:
        _content_type(content_type)  # a bad name is refused before anything is fetched
    data, mime = await _fetch(core, url)
    kind = _url_content_type(content_type, mime)
    return kind, data, _signal_names(kind, types)


# --- /status -------------------------------------------------------------------------------


@router.get("/status", response_class=PlainTextResponse)
def hma_status(core: Core, _: Matcher) -> PlainTextResponse:
    """HMA's readiness probe: `I-AM-ALIVE`, or 503. (Lykta's token-free probe is /health.)"""
    if not core.database_ok():
        return PlainTextResponse("DATABASE-UNAVAILABLE", 503)
    return PlainTextResponse("I-AM-ALIVE")


# --- /h: hashing ---------------------------------------------------------------------------


@router.get("/h/hash")
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
    kind, data, names = await _hash_url(core, url, content_type, types)
    return await run_in_threadpool(_hash_media, core, kind, data, names)


@router.post("/h/hash")
async def hash_upload(
    request: Request, core: Core, _: Matcher, types: Types = None
) -> dict[str, str]:
    """Hash one uploaded file; its multipart field name is the content type (`photo`, `video`)."""
    found = await _read_form_file(core, await _form(request))
    if found is None:
        raise HmaError(400, "Missing multipart/form-data file upload")
    kind, data = found
    return await run_in_threadpool(_hash_media, core, kind, data, _signal_names(kind, types))


# --- /m: matching --------------------------------------------------------------------------


@router.get("/m/raw_lookup")
def raw_lookup(
    core: Core,
    _: Matcher,
    signal: str | None = None,
    signal_type: str | None = None,
    banks: Banks = None,
    include_distance: str = "false",
) -> dict[str, list[Any]]:
    """`{"matches": [content_id, ...]}`, or `[{"bank_content_id", "distance"}]` with distance."""
    if signal is None:
        raise HmaError(400, "signal is required")
    if signal_type is None:
        raise HmaError(400, "signal_type is required")
    with_distance = _bool(include_distance)
    matches = _lookup_hash(core, signal_type, signal, _bank_list(banks))
    if with_distance:
        return {
            "matches": [
                {"bank_content_id": m.content_id, "distance": str(m.distance)} for m in matches
            ]
        }
    return {"matches": [m.content_id for m in matches]}


@router.get("/m/lookup")
async def lookup_get(
    core: Core,
    _: Matcher,
    url: str | None = None,
    content_type: str | None = None,
    types: Types = None,
    signal: str | None = None,
    signal_type: str | None = None,
    banks: Banks = None,
    seed: str | None = None,
    bypass_coinflip: str = "false",
) -> dict[str, Any]:
    """By hash: `{bank: [{"bank_content_id", "distance"}]}`. By url: the same keyed by signal
    type, or unkeyed for the one `signal_type` given. `seed` and `bypass_coinflip` are
    accepted and ignored: an enabled Lykta bank always matches."""
    _bool(bypass_coinflip)
    wanted = _bank_list(banks)
    if url:
        kind, data, names = await _hash_url(core, url, content_type, types)
        found = await run_in_threadpool(_lookup_media, core, kind, data, names, wanted)
        if signal_type is not None:
            return found.get(signal_type, {})
        return found
    if not signal or not signal_type:
        raise HmaError(400, "Either url or both signal and signal_type are required")
    matches = await run_in_threadpool(_lookup_hash, core, signal_type, signal, wanted)
    return _by_bank(matches)


@router.post("/m/lookup")
async def lookup_post(
    request: Request,
    core: Core,
    _: Matcher,
    types: Types = None,
    banks: Banks = None,
    seed: str | None = None,
    bypass_coinflip: str = "false",
) -> dict[str, Any]:
    """Hash and look up one uploaded file: `{signal_type: {bank: [match, ...]}}`."""
    _bool(bypass_coinflip)
    found = await _read_form_file(core, await _form(request))
    if found is None:
        raise HmaError(400, "Missing multipart/form-data file upload")
    kind, data = found
    names = _signal_names(kind, types)
    return await run_in_threadpool(_lookup_media, core, kind, data, names, _bank_list(banks))


@router.get("/m/index/status")
def index_status(core: Core, _: Matcher, signal_type: str | None = None) -> dict[str, Any]:
    """`{signal_type: {"present", "built_to", "size"}}`; Lykta's index is always current."""
    sizes = core.matcher.size()
    names = list(KIND_SIGNALS.values())
    if signal_type is not None:
        _signal_kind(signal_type)
        names = [signal_type]
    return {
        name: {
            "present": True,
            "built_to": core.matcher.revision,
            "size": sizes.get(SIGNAL_KINDS[name], 0),
        }
        for name in names
    }


# --- /c: curation --------------------------------------------------------------------------


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
    return [_bank_config(bank) for bank in core.banks.list()]


@router.post("/c/banks", status_code=201)
def bank_create(core: Core, _: Curator, body: BankCreateIn) -> dict[str, Any]:
    """Create a bank. A ratio above 0 means enabled: Lykta has no partial matching."""
    if body.enabled_ratio is not None:
        enabled = body.enabled_ratio > 0
    elif body.enabled is not None:
        enabled = body.enabled
    else:
        enabled = True
    return _bank_config(core.banks.create(body.name, enabled=enabled))


@router.get("/c/bank/{bank_name}")
def bank_show(core: Core, _: Curator, bank_name: str) -> dict[str, Any]:
    return _bank_config(core.banks.get(bank_name))


@router.put("/c/bank/{bank_name}")
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


@router.delete("/c/bank/{bank_name}")
def bank_delete(core: Core, _: Curator, bank_name: str) -> dict[str, str]:
    """As in HMA, deleting a bank that does not exist succeeds."""
    with contextlib.suppress(NotFound):
        core.banks.delete(bank_name)
    return {"message": "Done"}


def _add_signals(
    core: Lykta, bank_name: str, signals: dict[str, str], external_id: str | None, by: str
) -> dict[str, Any]:
    """Add `{signal_type: hash}` as HMA does; answers `{"id", "signals"}`. Lykta stores each
    hash as its own content: `id` is the first one's (the PDQ for a photo), and a hash the
    bank holds already is not added twice: its existing id is given."""
    if not signals:
        raise HmaError(400, "No signals given")
    rows: list[ParsedHash] = []
    normalised: dict[str, str] = {}
    for name, value in signals.items():
        kind = SIGNAL_KINDS.get(name)
        if kind is None:
            raise HmaError(400, f"No such signal type {name}")
        if not isinstance(value, str):
            raise HmaError(400, f"Invalid {name} signal: not a string")
        try:
            normalised[name] = get_hasher(kind).validate(value)
        except LyktaError as error:
            raise HmaError(400, f"Invalid {name} signal: {error.message}") from None
        rows.append(ParsedHash(kind, normalised[name], external_id))
    summary = core.banks.add_hashes(bank_name, rows, added_by=by, return_ids=True)
    first = rows[0]
    return {"id": summary.content_ids.get((first.kind, first.value)), "signals": normalised}


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


@router.post("/c/bank/{bank_name}/content")
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
        upload = await _read_form_file(core, form)
        external_id = _external_id(form.get("content_id"))
    elif header.startswith("application/json"):
        body = await _json_body(request)
        if isinstance(body, dict):
            external_id = _metadata_content_id(body.get("metadata"))
    if url:
        kind, data, names = await _hash_url(core, url, content_type, types)
    elif upload is not None:
        kind, data = upload
        names = _signal_names(kind, types)
    else:
        raise HmaError(400, "Neither `url` nor multipart file upload was received")
    signals = await run_in_threadpool(_hash_media, core, kind, data, names)
    return await run_in_threadpool(
        _add_signals, core, bank_name, signals, external_id, _added_by(token)
    )


@router.post("/c/bank/{bank_name}/signal")
async def bank_add_signals(
    request: Request, core: Core, token: Curator, bank_name: str
) -> dict[str, Any]:
    """Bank hashes directly: a JSON object `{signal_type: hash}`."""
    await run_in_threadpool(core.banks.get, bank_name)
    body = await _json_body(request)
    if not isinstance(body, dict):
        raise HmaError(400, "expected a JSON object of {signal_type: signal}")
    return await run_in_threadpool(_add_signals, core, bank_name, body, None, _added_by(token))


@router.get("/c/bank/{bank_name}/content/{content_id}")
def bank_get_content(
    core: Core, _: Curator, bank_name: str, content_id: ContentId, include_signals: str = "false"
) -> dict[str, Any]:
    with_signals = _bool(include_signals)
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
        out["signals"] = {KIND_SIGNALS[content.kind]: content.value}
    return out


@router.delete("/c/bank/{bank_name}/content/{content_id}")
def bank_delete_content(
    core: Core, _: Curator, bank_name: str, content_id: ContentId
) -> dict[str, int]:
    core.banks.get(bank_name)
    try:
        return {"deleted": core.banks.remove_content(bank_name, [content_id])}
    except NotFound:
        return {"deleted": 0}
