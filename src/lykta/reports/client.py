"""NCMEC's CyberTipline Reporting API over HTTPS (basic auth): status, submit, upload,
fileinfo, finish, retract. Every answer is a ``<reportResponse>`` with a
``responseCode`` (0 = success).

Two classes of failure: retryable ones (response code 1000, NCMEC's server error; HTTP
429, 500, 502, 503, 504; a connection refused, dropped or timed out) are tried again, four
times in all with a growing pause; everything else (any other response code, any other
HTTP status) is final at once, with a message naming the call and what came back."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO
from xml.etree import ElementTree as ET

from lykta.errors import LyktaError, NotConfigured

if TYPE_CHECKING:
    import httpx

SUCCESS = 0
SERVER_ERROR = 1000  # NCMEC: a server error, try again
RETRYABLE_HTTP = frozenset({429, 500, 502, 503, 504})
ATTEMPTS = 4


class CyberTiplineError(LyktaError):
    """The CyberTipline refused a call or could not be reached; the message says which."""

    status_code = 502


@dataclass(frozen=True)
class Response:
    code: int
    description: str
    report_id: str | None = None
    file_id: str | None = None
    file_hash: str | None = None


def parse_response(body: bytes) -> Response:
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise CyberTiplineError("the CyberTipline answered with no reportResponse XML") from None

    def text(tag: str) -> str | None:
        found = root.find(tag)
        return found.text.strip() if found is not None and found.text else None

    code = text("responseCode")
    if root.tag != "reportResponse" or code is None or not code.lstrip("-").isdigit():
        raise CyberTiplineError("the CyberTipline answered with no responseCode")
    return Response(
        int(code), text("responseDescription") or "", text("reportId"), text("fileId"),
        text("hash"),
    )  # fmt: skip


class CyberTiplineClient:
    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        *,
        transport: httpx.BaseTransport | None = None,
        pause: Callable[[float], None] = time.sleep,
        backoff: float = 1.0,
        timeout: float = 60.0,
    ) -> None:
        if not url:
            raise NotConfigured("LYKTA_CYBERTIPLINE_URL is not set")
        if not username or not password:
            raise NotConfigured(
                "LYKTA_CYBERTIPLINE_USERNAME and LYKTA_CYBERTIPLINE_PASSWORD must be set "
                "(credentials from NCMEC) to send reports"
            )
        import httpx  # here, not at the top: only sending a report needs it

        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url, auth=(username, password), timeout=timeout, transport=transport
        )
        self._pause = pause
        self._backoff = backoff

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **request: object) -> Response:
        import httpx

        problem = ""
        for attempt in range(ATTEMPTS):
            if attempt:
                self._pause(self._backoff * 2 ** (attempt - 1))
            try:
                answer = self._http.request(method, path, **request)  # type: ignore[arg-type]
            except httpx.TransportError as error:
                problem = (
                    f"cannot reach the CyberTipline at {self.url}{path}: {type(error).__name__}"
                )
                continue
            if answer.status_code == 401:
                raise CyberTiplineError("the CyberTipline refused the credentials (HTTP 401)")
            if answer.status_code in RETRYABLE_HTTP:
                problem = f"the CyberTipline answered HTTP {answer.status_code} to {path}"
                continue
            try:
                response = parse_response(answer.content)
            except CyberTiplineError as error:
                if answer.status_code == 200:
                    raise
                raise CyberTiplineError(
                    f"the CyberTipline answered HTTP {answer.status_code} to {path} "
                    "with no reportResponse"
                ) from error
            if response.code == SERVER_ERROR:
                problem = f"the CyberTipline had a server error on {path}: {response.description}"
                continue
            if response.code != SUCCESS:
                raise CyberTiplineError(
                    f"the CyberTipline refused {path}: code {response.code}, {response.description}"
                )
            return response
        raise CyberTiplineError(f"{problem} (tried {ATTEMPTS} times)")

    def status(self) -> Response:
        return self._call("GET", "/status")

    def submit(self, report_xml: bytes) -> str:
        """Open a report; its NCMEC id."""
        response = self._call(
            "POST", "/submit", content=report_xml,
            headers={"Content-Type": "text/xml; charset=utf-8"},
        )  # fmt: skip
        if not response.report_id:
            raise CyberTiplineError("the CyberTipline opened a report but sent no reportId")
        return response.report_id

    def upload(self, report_id: str, name: str, data: bytes | BinaryIO) -> str:
        """Add a file to an open report; its NCMEC file id. A seekable file is streamed
        (read again from its start on each try), with its length sent beforehand."""
        response = self._call(
            "POST", "/upload", data={"id": report_id}, files={"file": (name, data)}
        )
        if not response.file_id:
            raise CyberTiplineError("the CyberTipline took a file but sent no fileId")
        return response.file_id

    def fileinfo(self, details_xml: bytes) -> None:
        self._call(
            "POST", "/fileinfo", content=details_xml,
            headers={"Content-Type": "text/xml; charset=utf-8"},
        )  # fmt: skip

    def finish(self, report_id: str) -> None:
        self._call("POST", "/finish", data={"id": report_id})

    def retract(self, report_id: str) -> None:
        self._call("POST", "/retract", data={"id": report_id})
