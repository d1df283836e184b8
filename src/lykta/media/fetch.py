"""Fetch media by URL without letting callers reach into the server's network.

Off unless the server's allow-list (`LYKTA_HMA_FETCH_URLS`) says otherwise: only listed
hosts, or any host with a public address; every redirect checked again; the connection
pinned to the checked address (no DNS rebinding); the body and the whole fetch bounded.
Failures are Lykta errors, so every door reports them the same way.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from lykta.errors import Forbidden, InvalidInput, TooLarge

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

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _fetch_policy(allow: str) -> tuple[bool, set[str]]:
    """`allow` as (any public address, hosts allowed by name): `public` and host names,
    comma-separated, as `LYKTA_HMA_FETCH_URLS` gives them."""
    entries = {e.strip().lower() for e in allow.split(",") if e.strip()}
    return "public" in entries, entries - {"public"}


def check_host(url: str, allow: str, setting: str) -> None:
    """Refuse a URL the server is about to fetch unless ``allow`` (``public`` and host names,
    comma-separated, as ``setting`` gives them) lets it: its host listed by name, or
    ``public`` and every address the host resolves to public. An empty ``allow`` lets any
    host through."""
    public, hosts = _fetch_policy(allow)
    if not public and not hosts:
        return
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError as error:
        raise InvalidInput(f"url is malformed ({error}): {url[:200]!r}") from None
    if host in hosts:
        return
    if not public:
        raise Forbidden(f"host {host!r} is not in {setting}")
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as error:
        raise InvalidInput(f"cannot resolve host {host!r}: {error}") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if not is_public(address):
            # The address is left out: it would tell callers about the server's network.
            raise Forbidden(
                f"host {host!r} is not allowed: it resolves to a non-public address "
                f"(list it in {setting} to allow it)"
            )


async def fetch_url(url: str, *, allow: str, max_bytes: int) -> tuple[bytes, str]:
    """GET `url` within the limits: allowed hosts only, never a private address unless its
    host is listed by name, every redirect checked again, the connection pinned to the
    checked address (no DNS rebinding), the body cut at `max_bytes`, and all of it done
    within FETCH_DEADLINE. Returns the body and its Content-Type."""
    public, hosts = _fetch_policy(allow)
    if not public and not hosts:
        raise Forbidden(
            "fetching media by URL is disabled on this server (it would let callers make it "
            "request arbitrary addresses); upload the file instead (POST with a multipart "
            "field named 'photo' or 'video') or have an admin set LYKTA_HMA_FETCH_URLS"
        )
    try:
        async with asyncio.timeout(FETCH_DEADLINE):
            return await _fetch_within(url, public, hosts, max_bytes)
    except TimeoutError:
        raise InvalidInput(
            f"fetching the url took longer than {FETCH_DEADLINE:g} s in all"
        ) from None


async def _resolve(host: str, port: int) -> list[Address]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as error:
        raise InvalidInput(f"cannot resolve host {host!r}: {error}") from None
    addresses: list[Address] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        addresses.append(address)
    if not addresses:
        raise InvalidInput(f"cannot resolve host {host!r}")
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


def is_public(address: Address) -> bool:
    """Whether `address` may be fetched from without its host being listed: a global unicast
    address, and for IPv6 one that doesn't lead to a non-public IPv4 address (Python 3.11's
    `is_global` holds e.g. `64:ff9b::a9fe:a9fe` and `2002:a9fe:a9fe::` global)."""
    if not address.is_global or address.is_multicast:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        if address in NAT64_LOCAL_USE or address in IPV4_COMPATIBLE:
            return False
        return all(is_public(v4) for v4 in _embedded_ipv4(address))
    return True


async def _fetch_within(
    url: str, public: bool, hosts: set[str], max_bytes: int
) -> tuple[bytes, str]:
    async with httpx.AsyncClient(timeout=FETCH_TIMEOUT, follow_redirects=False) as client:
        for _ in range(FETCH_MAX_REDIRECTS + 1):
            try:
                parts = urlsplit(url)
            except ValueError as error:  # e.g. an unclosed or bad [IPv6] host
                raise InvalidInput(f"url is malformed ({error}): {url[:200]!r}") from None
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise InvalidInput(f"url must be http(s) with a host, got {url[:200]!r}")
            if parts.username or parts.password:
                raise InvalidInput("url must not carry credentials")
            host = parts.hostname.lower()
            try:
                port = parts.port or (443 if parts.scheme == "https" else 80)
            except ValueError:
                raise InvalidInput("url has a bad port") from None
            listed = host in hosts
            if not listed and not public:
                raise Forbidden(f"host {host!r} is not in LYKTA_HMA_FETCH_URLS")
            addresses = await _resolve(host, port)
            # The address is left out of the message: it would tell callers about the
            # network the server sits in.
            if not listed and not all(is_public(a) for a in addresses):
                raise Forbidden(
                    f"host {host!r} is not allowed: it resolves to a non-public address"
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
                raise InvalidInput(f"fetching {host!r} failed: {type(error).__name__}") from None
            try:
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.status_code >= 400:
                    raise InvalidInput(f"fetching {host!r} failed: HTTP {response.status_code}")
                too_large = TooLarge(
                    f"Content too large: media is larger than {max_bytes} bytes "
                    "(LYKTA_MAX_UPLOAD_BYTES)"
                )
                # A declared length over the limit is refused before any body is read.
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise too_large
                data = bytearray()
                try:
                    async for chunk in response.aiter_bytes():
                        data += chunk
                        if len(data) > max_bytes:
                            raise too_large
                except httpx.HTTPError as error:  # cut short, a read timeout, bad encoding
                    raise InvalidInput(
                        f"fetching {host!r} failed: {type(error).__name__}"
                    ) from None
                return bytes(data), response.headers.get("content-type", "")
            finally:
                await response.aclose()
    raise InvalidInput(f"more than {FETCH_MAX_REDIRECTS} redirects")
