"""HMA's own HTTP tests, run against Lykta's HMA-compatible routes.

Each test in this folder ports one test of HMA (OpenMediaMatch, facebook/ThreatExchange at
commit baefb4ed, `hasher-matcher-actioner/src/OpenMediaMatch/tests/`): the same routes,
bodies and expected statuses and fields, with a bearer token added. `HmaClient` gives the
ported code Flask's test-client names (`.json`, `.data`, `query_string=`, `data={"photo":
file}`) so each assertion reads as in HMA. Where Lykta is deliberately different the test is
marked `deliberate(...)` (a strict xfail naming the difference in docs/hma.md); a test that
checks HMA's internals rather than its HTTP API is skipped with the reason. The terminal
summary prints how many of HMA's cases pass.
"""

from __future__ import annotations

import functools
import http.server
import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from PIL import Image

from lykta.api.main import create_app
from lykta.app import Lykta
from lykta.auth.tokens import Scope
from tests.conftest import make_settings

EXCHANGE_KEY = "ab" * 32
HMA_COMMIT = "baefb4ed67b6cdc1d4c82dbaef858d50866ac424"
# Populated by the image_server fixture, as HMA's utils.py does.
IMAGE_URL_TO_PDQ: dict[str, str] = {}


def deliberate(reason: str) -> pytest.MarkDecorator:
    """A case Lykta fails on purpose; `reason` names the difference listed in docs/hma.md."""
    return pytest.mark.xfail(strict=True, reason=f"deliberate: {reason}")


class HmaResponse:
    """An httpx response under the names HMA's tests read from Flask's."""

    def __init__(self, response: Response) -> None:
        self.response = response
        self.status_code = response.status_code
        self.data = response.content

    @property
    def is_json(self) -> bool:
        return self.response.headers.get("content-type", "").startswith("application/json")

    @property
    def json(self) -> Any:
        return self.response.json() if self.is_json else None

    def get_json(self) -> Any:
        return self.json

    def get_data(self, as_text: bool = False) -> str | bytes:
        return self.response.text if as_text else self.data


class HmaClient:
    """Flask's test-client calls (`get`, `post`, `put`, `delete`) with Lykta's token added."""

    def __init__(self, client: TestClient, token: str | None) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def open(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: dict[str, Any] | None = None,
        query_string: dict[str, Any] | None = None,
    ) -> HmaResponse:
        files: dict[str, tuple[str, bytes, str]] = {}
        for field, (file_path, filename, mime) in (data or {}).items():
            # Flask takes (file, filename, mime) and opens a file given as a path, as HMA's
            # tests give it
            files[field] = (filename, Path(file_path).read_bytes(), mime)
        params = {
            k: str(v).lower() if isinstance(v, bool) else v for k, v in (query_string or {}).items()
        }
        return HmaResponse(
            self.client.request(
                method,
                path,
                json=json,
                files=files or None,
                params=params or None,
                headers=self.headers,
            )
        )

    def get(self, path: str, **kwargs: Any) -> HmaResponse:
        return self.open("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> HmaResponse:
        return self.open("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> HmaResponse:
        return self.open("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> HmaResponse:
        return self.open("DELETE", path, **kwargs)


def _checkerboard(cell: int) -> bytes:
    """HMA's test images: 128x128 black-and-white checkerboards, saved as JPEG."""
    image = Image.new("RGB", (128, 128))
    pixels = image.load()
    assert pixels is not None
    for x in range(128):
        for y in range(128):
            pixels[x, y] = (255, 255, 255) if (x // cell + y // cell) % 2 else (0, 0, 0)
    out = io.BytesIO()
    image.save(out, format="JPEG")
    return out.getvalue()


# Two cell sizes, so two different PDQ hashes.
IMAGES = {"image1.jpg": _checkerboard(8), "image2.jpg": _checkerboard(16)}


@pytest.fixture(scope="session")
def image_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """As HMA's `image_server`: two checkerboards served locally (no outside HTTP)."""
    folder = tmp_path_factory.mktemp("hma_images")
    for name, data in IMAGES.items():
        (folder / name).write_bytes(data)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{server.server_address[1]}"
    yield base_url
    server.shutdown()
    server.server_close()


@pytest.fixture
def core(tmp_path: Path, image_server: str) -> Iterator[Lykta]:
    # HMA fetches any URL; Lykta only those LYKTA_HMA_FETCH_URLS allows (docs/hma.md).
    # HMA keeps exchange API credentials in its database; Lykta seals them under a key.
    lykta = Lykta.open(
        make_settings(tmp_path / "home", hma_fetch_urls="127.0.0.1", exchange_key=EXCHANGE_KEY)
    )
    for name, data in IMAGES.items():
        IMAGE_URL_TO_PDQ[f"{image_server}/{name}"] = lykta.hash_photo(data).pdq
    yield lykta
    lykta.close()


@pytest.fixture
def test_client(core: Lykta) -> Iterator[TestClient]:
    with TestClient(create_app(core, follow_changes=False), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def client(core: Lykta, test_client: TestClient) -> HmaClient:
    """HMA's `client`, with a curator token (HMA's test config enables every role)."""
    return HmaClient(test_client, core.tokens.create(Scope.CURATOR)[1])


def create_bank(client: HmaClient, bank_name: str) -> None:
    """HMA's utils.create_bank."""
    post_response = client.post("/c/banks", json={"name": bank_name})
    assert post_response.status_code == 201
    assert post_response.json == {"matching_enabled_ratio": 1.0, "name": bank_name}


def add_hash_to_bank(
    client: HmaClient, bank_name: str, image_url: str, content_id: int = 1
) -> None:
    """HMA's utils.add_hash_to_bank."""
    post_response = client.post(f"/c/bank/{bank_name}/content?url={image_url}&content_type=photo")
    assert post_response.status_code == 200
    assert post_response.json == {"id": content_id, "signals": {"pdq": IMAGE_URL_TO_PDQ[image_url]}}


_OUTCOMES: dict[str, str] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "hma_suite" not in report.nodeid:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        outcome = report.outcome
        if hasattr(report, "wasxfail"):
            outcome = "deliberate" if "deliberate:" in report.wasxfail else "not built"
        _OUTCOMES[report.nodeid] = outcome


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _OUTCOMES:
        return
    counts: dict[str, int] = {}
    for outcome in _OUTCOMES.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    others = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()) if k != "passed")
    terminalreporter.write_line(
        f"HMA conformance: {counts.get('passed', 0)} of {len(_OUTCOMES)} HMA cases pass "
        f"({others or 'no others'})"
    )
