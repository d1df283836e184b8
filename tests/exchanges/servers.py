"""Local servers that speak NCMEC's hash sharing API (v2, XML), StopNCII's FetchHashes
(JSON) and the Graph API's ThreatExchange ``threat_updates`` (JSON) as
python-threatexchange's clients call them: paging by ``next`` links and page
tokens, deletions, authentication, and failures (throttling, server errors) on demand; and
a static file server publishing a hash list with its ETag and Last-Modified."""

from __future__ import annotations

import base64
import bisect
import hashlib
import html
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

NCMEC_USER, NCMEC_PASSWORD = "esp-user", "s3cret-ncmec-pass"
STOPNCII_FUNCTION_KEY, STOPNCII_SUBSCRIPTION_KEY = "fn-key-4711", "sub-key-0815"
_DATE = "%Y-%m-%dT%H:%M:%SZ"
PAGE = 1000


@dataclass
class Failures:
    """Answers to give instead of serving pages: the next ``count`` requests get
    ``status``; with ``after`` set, every request fails once that many pages holding
    entries that the client keeps were served."""

    count: int = 0
    status: int = 503
    retry_after: str | None = None
    after: int | None = None
    served: int = 0

    def take(self) -> tuple[int, str | None] | None:
        if self.after is not None and self.served >= self.after:
            return 500, None
        if self.count > 0:
            self.count -= 1
            return self.status, self.retry_after
        return None


@dataclass
class NcmecEntry:
    id: str
    member_id: int
    kind: str  # "image" or "video"
    timestamp: int
    fingerprints: dict[str, str]
    classification: str | None = "A1"
    deleted: bool = False


@dataclass
class NcmecState:
    entries: dict[str, NcmecEntry] = field(default_factory=dict)
    failures: Failures = field(default_factory=Failures)
    requests: list[str] = field(default_factory=list)
    auth_headers: list[str] = field(default_factory=list)
    _sorted: list[NcmecEntry] | None = None
    _times: list[int] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, entry: NcmecEntry) -> None:
        with self.lock:
            self.entries[entry.id] = entry
            self._sorted = None

    def delete(self, entry_id: str, timestamp: int) -> None:
        with self.lock:
            old = self.entries[entry_id]
            self.entries[entry_id] = NcmecEntry(
                old.id, old.member_id, old.kind, timestamp, {}, None, deleted=True
            )
            self._sorted = None

    def window(self, start: int, end: int) -> list[NcmecEntry]:
        with self.lock:
            if self._sorted is None:
                self._sorted = sorted(self.entries.values(), key=lambda e: (e.timestamp, e.id))
                self._times = [e.timestamp for e in self._sorted]
            assert self._times is not None
            lo = bisect.bisect_left(self._times, start)
            hi = bisect.bisect_right(self._times, end)
            return self._sorted[lo:hi]


def _parse_date(text: str) -> int:
    # The client writes local time with a Z (datetime.fromtimestamp); read it back alike.
    return int(time.mktime(time.strptime(text, _DATE)))


def _entry_xml(entry: NcmecEntry) -> str:
    tag = ("deleted" + entry.kind.capitalize()) if entry.deleted else entry.kind
    parts = [f'<{tag}><id>{entry.id}</id><member id="{entry.member_id}">ESP</member>']
    if not entry.deleted:
        if entry.classification:
            parts.append(f"<classification>{entry.classification}</classification>")
        prints = "".join(f"<{k}>{v}</{k}>" for k, v in entry.fingerprints.items())
        parts.append(f"<fingerprints>{prints}</fingerprints>")
    parts.append(f"</{tag}>")
    return "".join(parts)


def ncmec_page(state: NcmecState, query: dict[str, str]) -> str:
    start, end = _parse_date(query["from"]), _parse_date(query["to"])
    window = state.window(start, end)
    offset = int(query.get("start", 0))
    page = window[offset : offset + PAGE]
    # The newest time in the whole range, as NCMEC's maxTimestamp: the client sizes its
    # time windows by it.
    newest = max((e.timestamp for e in window), default=end)
    stamp = datetime.fromtimestamp(newest, UTC).strftime(_DATE)
    body = [
        '<?xml version="1.0"?><queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2">'
    ]
    for kind in ("image", "video"):
        chosen = [e for e in page if e.kind == kind]
        if chosen:
            body.append(f'<{kind}s count="{len(chosen)}" maxTimestamp="{stamp}">')
            body.extend(_entry_xml(e) for e in chosen)
            body.append(f"</{kind}s>")
    if offset + PAGE < len(window):
        link = "/v2/entries?" + urllib.parse.urlencode(
            {
                "from": query["from"],
                "to": query["to"],
                "start": offset + PAGE,
                "size": PAGE,
                "max": len(window),
            }
        )
        body.append(f"<paging><next>{html.escape(link)}</next></paging>")
    body.append("</queryResult>")
    return "".join(body)


def _ncmec_handler(state: NcmecState) -> type[BaseHTTPRequestHandler]:
    expected = "Basic " + base64.b64encode(f"{NCMEC_USER}:{NCMEC_PASSWORD}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            state.requests.append(self.path)
            state.auth_headers.append(self.headers.get("Authorization", ""))
            if self.headers.get("Authorization") != expected:
                self._send(401, b"<error>unauthorized</error>")
                return
            if url.path != "/v2/entries":
                self._send(404, b"<error>not found</error>")
                return
            with state.lock:
                failure = state.failures.take()
            if failure is not None:
                status, retry_after = failure
                headers = {"Retry-After": retry_after} if retry_after else {}
                self._send(status, b"<error>try later</error>", headers)
                return
            query = dict(urllib.parse.parse_qsl(url.query))
            body = ncmec_page(state, query)
            # Counted: pages the client keeps. A first page with a next link may be a probe
            # the client throws away to fetch a narrower time range instead.
            if "<id>" in body and "<next>" not in body:
                state.failures.served += 1
            self._send(200, body.encode())

    return Handler


@dataclass
class StopNciiState:
    #: (signal type, hash) -> record as the API answers it
    records: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    failures: Failures = field(default_factory=Failures)
    requests: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, signal_type: str, value: str, timestamp: int, *, status: str = "Active",
            feedback: str | None = None, tags: tuple[str, ...] = ()) -> None:  # fmt: skip
        feedbacks = [{"feedbackValue": feedback, "tags": list(tags), "source": "csp"}]
        with self.lock:
            self.records[signal_type, value] = {
                "lastModtimestamp": timestamp, "signalType": signal_type, "hashValue": value,
                "hashStatus": status, "caseNumbers": {"case-1": status},
                "CSPFeedbacks": feedbacks if feedback else [],
            }  # fmt: skip


def stopncii_page(state: StopNciiState, query: dict[str, str]) -> dict[str, Any]:
    start = int(query["startTimestamp"])
    size = int(query.get("pageSize", 800))
    offset = int(query.get("nextPageToken") or 0)
    with state.lock:
        chosen = sorted(
            (r for r in state.records.values() if r["lastModtimestamp"] >= start),
            key=lambda r: (r["lastModtimestamp"], r["hashValue"]),
        )
    page = chosen[offset : offset + size]
    more = offset + size < len(chosen)
    newest = max((r["lastModtimestamp"] for r in chosen), default=start - 1)
    return {
        "count": len(page), "nextPageToken": str(offset + size) if more else None,
        "nextSetTimestamp": newest + 1, "hasMoreRecords": more, "hashRecords": page,
    }  # fmt: skip


def _stopncii_handler(state: StopNciiState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            state.requests.append(self.path)
            if (
                self.headers.get("x-functions-key") != STOPNCII_FUNCTION_KEY
                or self.headers.get("Ocp-Apim-Subscription-Key") != STOPNCII_SUBSCRIPTION_KEY
            ):
                self._send(401, {"message": "unauthorized"})
                return
            if url.path != "/v1/FetchHashes":
                self._send(404, {"message": "not found"})
                return
            with state.lock:
                failure = state.failures.take()
            if failure is not None:
                status, retry_after = failure
                headers = {"Retry-After": retry_after} if retry_after else {}
                self._send(status, {"message": "try later"}, headers)
                return
            page = stopncii_page(state, dict(urllib.parse.parse_qsl(url.query)))
            state.failures.served += bool(page["hashRecords"])
            self._send(200, page)

    return Handler


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Run ``handler`` on a free local port; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def ncmec_server(state: NcmecState) -> Iterator[str]:
    with serve(_ncmec_handler(state)) as url:
        yield url


@contextmanager
def stopncii_server(state: StopNciiState) -> Iterator[str]:
    with serve(_stopncii_handler(state)) as url:
        yield f"{url}/v1"


TE_APP_ID = 1234567890
TE_TOKEN = f"{TE_APP_ID}|te-app-secret-0123456789abcdef"
# What an update must carry for the client to read it.
_TE_FIELDS = frozenset({"indicator", "type", "last_updated", "should_delete", "descriptors",
                        "owner", "status", "tags"})  # fmt: skip


@dataclass
class ThreatUpdate:
    """One indicator of a privacy group as ``/threat_updates`` answers it."""

    id: int
    type: str  # ThreatExchange's indicator type: HASH_PDQ, HASH_VIDEO_MD5, URI, ...
    indicator: str
    last_updated: int
    owner: int = 4711
    status: str = "MALICIOUS"
    tags: tuple[str, ...] = ()
    should_delete: bool = False

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "id": str(self.id), "indicator": self.indicator, "type": self.type,
            "last_updated": self.last_updated, "should_delete": self.should_delete,
        }  # fmt: skip
        if not self.should_delete:
            record["descriptors"] = {
                "data": [{
                    "id": str(self.id * 10), "owner": {"id": str(self.owner)},
                    "status": self.status, "reactions": [],
                    "tags": {"data": [{"id": str(n), "text": tag}
                                      for n, tag in enumerate(self.tags)]},
                }]
            }  # fmt: skip
        return record


@dataclass
class ThreatExchangeState:
    #: privacy group -> indicator id -> its latest update
    groups: dict[int, dict[int, ThreatUpdate]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, group: int, update: ThreatUpdate) -> None:
        with self.lock:
            self.groups.setdefault(group, {})[update.id] = update

    def delete(self, group: int, indicator_id: int, timestamp: int) -> None:
        """A tombstone, as ``/threat_updates`` sends once an indicator is gone."""
        with self.lock:
            old = self.groups[group][indicator_id]
            self.groups[group][indicator_id] = ThreatUpdate(
                old.id, old.type, old.indicator, timestamp, should_delete=True
            )


def threat_updates_page(
    state: ThreatExchangeState, group: int, query: dict[str, str], base: str
) -> dict[str, Any]:
    """A page of the Graph API's ``/{group}/threat_updates``: updates since
    ``start_time`` (inclusive) in time order, ``limit`` a page, the next page's full URL
    under ``paging.next`` (carrying every parameter, as the Graph API writes it)."""
    start = int(query.get("start_time") or 0)
    stop = int(query["stop_time"]) if query.get("stop_time") else None
    limit = int(query.get("limit") or 25)
    after = int(query.get("after") or 0)
    with state.lock:
        chosen = sorted(
            (u for u in state.groups.get(group, {}).values()
             if u.last_updated >= start and (stop is None or u.last_updated < stop)),
            key=lambda u: (u.last_updated, u.id),
        )  # fmt: skip
    page = chosen[after : after + limit]
    answer: dict[str, Any] = {"data": [u.to_json() for u in page]}
    if after + limit < len(chosen):
        following = {**query, "after": str(after + limit)}
        answer["paging"] = {
            "cursors": {"after": str(after + limit)},
            "next": f"{base}/{group}/threat_updates/?{urllib.parse.urlencode(following)}",
        }
    return answer


def _threatexchange_handler(state: ThreatExchangeState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, payload: Any) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: int, message: str, code: int) -> None:
            self._send(status, {"error": {"message": message, "type": "OAuthException",
                                          "code": code}})  # fmt: skip

        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            state.requests.append(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            if query.get("access_token") != TE_TOKEN:
                self._error(400, "Invalid OAuth access token.", 190)
                return
            fields = set(re.split(r"[,{}]", query.get("fields", "")))
            if not fields >= _TE_FIELDS:
                missing = ", ".join(sorted(_TE_FIELDS - fields))
                self._error(400, f"fields must ask for {missing}", 100)
                return
            parts = url.path.strip("/").split("/")
            if len(parts) != 2 or parts[1] != "threat_updates" or not parts[0].isdigit():
                self._error(404, "Unknown path components", 2500)
                return
            host = f"http://{self.headers.get('Host')}"
            self._send(200, threat_updates_page(state, int(parts[0]), query, host))

    return Handler


@contextmanager
def threatexchange_server(state: ThreatExchangeState) -> Iterator[str]:
    with serve(_threatexchange_handler(state)) as url:
        yield url


@dataclass
class ListState:
    """A hash list published at ``/lists/<name>``, with the validators a static file server
    sends: an ETag (a digest of the body) and a Last-Modified time, either of which can be
    left out."""

    body: bytes = b""
    modified: int = 1_700_000_000
    send_etag: bool = True
    send_last_modified: bool = True
    status: int = 200
    #: Requests still to answer with 503 before serving again
    unavailable: int = 0
    #: Where to send requests instead (a 302), when set
    redirect_to: str = ""
    #: (If-None-Match, If-Modified-Since, status answered) of each request
    requests: list[tuple[str | None, str | None, int]] = field(default_factory=list)

    def publish(self, text: str) -> None:
        self.body = text.encode()
        self.modified += 60

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'


def _list_handler(state: ListState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            state.requests.append(
                (self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since"), status)
            )
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if state.unavailable > 0:
                state.unavailable -= 1
                self._send(503, b"unavailable", {"Retry-After": "0"})
                return
            if state.status != 200:
                self._send(state.status, b"gone", {})
                return
            if state.redirect_to and not self.path.endswith("/moved.txt"):
                self._send(302, b"", {"Location": state.redirect_to})
                return
            headers = {"Content-Type": "text/plain; charset=utf-8"}
            if state.send_etag:
                headers["ETag"] = state.etag
            if state.send_last_modified:
                headers["Last-Modified"] = formatdate(state.modified, usegmt=True)
            # As RFC 9110 says: If-None-Match decides when sent; else If-Modified-Since.
            match, since = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
            if match is not None:
                unchanged = state.send_etag and match == state.etag
            else:
                unchanged = (
                    since is not None
                    and state.send_last_modified
                    and parsedate_to_datetime(since).timestamp() >= state.modified
                )
            if unchanged:
                self._send(304, b"", headers)
                return
            self._send(200, state.body, headers)

    return Handler


@contextmanager
def list_server(state: ListState) -> Iterator[str]:
    with serve(_list_handler(state)) as url:
        yield f"{url}/lists"
