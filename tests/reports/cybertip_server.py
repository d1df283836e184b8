"""A local stand-in for NCMEC's CyberTipline Reporting API, run in a thread by the tests:
basic auth, /status, /submit, /upload, /fileinfo, /finish, /retract, each answering a
``<reportResponse>``; XML out of the schema's order is refused with code 4100, an unknown
or closed report with code 2000 (this server's stand-in for NCMEC's own report codes).

``fail_next`` makes the next calls fail, one entry each, before they are handled:
``"drop"`` closes the connection without an answer; ``"stall"`` holds the call until
``State.release`` is set (a client's read timeout), then drops it; ``"httpN"`` answers
HTTP N with no XML; ``"codeN"`` answers HTTP 200 with response code N; ``"httpN:codeM"``
both; ``""`` lets the call through. ``State.received`` is set whenever a failure is
taken, so a test can wait for it."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.etree import ElementTree as ET

from lykta.reports.xml import out_of_order

USER, PASSWORD = "esp-test", "benign-password"


@dataclass
class Report:
    xml: bytes
    files: dict[str, bytes] = field(default_factory=dict)
    file_details: dict[str, bytes] = field(default_factory=dict)
    state: str = "open"


@dataclass
class State:
    reports: dict[str, Report] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    fail_next: list[str] = field(default_factory=list)  # "drop", "http503", "code1000", ...
    lock: threading.Lock = field(default_factory=threading.Lock)
    received: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


def response(code: int, description: str, **extra: str) -> bytes:
    root = ET.Element("reportResponse")
    ET.SubElement(root, "responseCode").text = str(code)
    ET.SubElement(root, "responseDescription").text = description
    for tag, value in extra.items():
        ET.SubElement(root, tag).text = value
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def make_handler(state: State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _authorised(self) -> bool:
            expected = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            if self.headers.get("Authorization") != f"Basic {expected}":
                self._answer(401, b"")
                return False
            return True

        def do_GET(self) -> None:
            if self._authorised() and self.path == "/status":
                self._answer(200, response(0, "Success"))

        def _form(self, body: bytes) -> dict[str, bytes]:
            kind = self.headers.get("Content-Type", "")
            if kind.startswith("application/x-www-form-urlencoded"):
                from urllib.parse import parse_qs

                return {k: v[0].encode() for k, v in parse_qs(body.decode()).items()}
            message = BytesParser(policy=HTTP).parsebytes(
                f"Content-Type: {kind}\r\n\r\n".encode() + body
            )
            parts: dict[str, bytes] = {}
            for part in message.iter_parts():  # type: ignore[attr-defined]
                name = part.get_param("name", header="content-disposition")
                parts[name] = part.get_payload(decode=True)
            return parts

        def do_POST(self) -> None:
            if not self._authorised():
                return
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            endpoint = self.path
            with state.lock:
                state.calls.append(endpoint)
                failure = state.fail_next.pop(0) if state.fail_next else None
            if failure:
                state.received.set()
                self._fail(failure)
                return
            status, answer = self._handle(endpoint, body)
            self._answer(status, answer)

        def _fail(self, failure: str) -> None:
            if failure in ("drop", "stall"):
                if failure == "stall":
                    state.release.wait()
                self.close_connection = True  # no answer: the client sees the connection go
                return
            status, code = 200, None
            for part in failure.split(":"):
                if part.startswith("http"):
                    status = int(part.removeprefix("http"))
                elif part.startswith("code"):
                    code = int(part.removeprefix("code"))
                else:
                    raise ValueError(f"unknown failure {failure!r}")
            self._answer(status, b"busy" if code is None else response(code, f"failure {code}"))

        def _report(self, report_id: str) -> Report | None:
            report = state.reports.get(report_id)
            return report if report is not None and report.state == "open" else None

        def _handle(self, endpoint: str, body: bytes) -> tuple[int, bytes]:
            if endpoint in ("/submit", "/fileinfo"):
                try:
                    root = ET.fromstring(body)
                except ET.ParseError:
                    return 400, response(4000, "Malformed XML")
                problem = out_of_order(root)
                if problem:
                    return 400, response(4100, f"XML validation failure: {problem}")
                if endpoint == "/submit":
                    if root.tag != "report" or root.find("incidentSummary/incidentType") is None:
                        return 400, response(4100, "XML validation failure: no incidentType")
                    with state.lock:
                        report_id = str(100_000 + len(state.reports))
                        state.reports[report_id] = Report(body)
                    return 200, response(0, "Success", reportId=report_id)
                report = self._report(root.findtext("reportId") or "")
                file_id = root.findtext("fileId") or ""
                if report is None or file_id not in report.files:
                    return 400, response(2000, "Unknown report or file")
                report.file_details[file_id] = body
                return 200, response(0, "Success", reportId=root.findtext("reportId") or "")
            form = self._form(body)
            report_id = form.get("id", b"").decode()
            report = self._report(report_id)
            if report is None:
                return 400, response(2000, "Unknown or closed report")
            if endpoint == "/upload":
                file_id = f"file-{len(report.files) + 1}"
                report.files[file_id] = form["file"]
                return 200, response(0, "Success", reportId=report_id, fileId=file_id)
            if endpoint == "/finish":
                report.state = "finished"
                return 200, response(0, "Success", reportId=report_id)
            if endpoint == "/retract":
                report.state = "retracted"
                return 200, response(0, "Success", reportId=report_id)
            return 404, response(4000, "Unknown endpoint")

    return Handler


@contextmanager
def cybertipline() -> Iterator[tuple[str, State]]:
    """The server's base URL and state, for the length of the block."""
    state = State()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
