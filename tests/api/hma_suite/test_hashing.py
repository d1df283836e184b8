"""HMA's `tests/test_hashing.py`, ported (see conftest.py). HMA mocks `requests.get`; a local
server answers the same headers here. HMA's six `is_valid_url` tests call its validator
function directly and its two configuration tests set its `MAX_REMOTE_FILE_SIZE` setting to
None or to text (expecting HMA's 500): none goes through HTTP, so none is ported."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lykta.app import Lykta
from tests.api.hma_suite.conftest import HmaClient


@pytest.fixture
def declared_length_server(core: Lykta) -> Iterator[tuple[str, list[int]]]:
    """Answers `image/jpeg` with the Content-Length set in `lengths[0]` and a short body."""
    lengths = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(lengths[0]))
            self.end_headers()
            self.wfile.write(b"fake image data"[: lengths[0]])
            self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/image.jpg", lengths
    server.shutdown()
    server.server_close()


def test_content_length_validation(
    client: HmaClient, core: Lykta, declared_length_server: tuple[str, list[int]]
) -> None:
    """test_hashing.py::test_content_length_validation (HMA's DEFAULT_MAX_REMOTE_FILE_SIZE
    is Lykta's LYKTA_MAX_UPLOAD_BYTES)."""
    url, lengths = declared_length_server
    lengths[0] = core.settings.max_upload_bytes + 1
    response = client.get(f"/h/hash?url={url}")
    assert response.status_code == 413
    assert "Content too large" in response.get_data(as_text=True)

    lengths[0] = len(b"fake image data")
    response = client.get(f"/h/hash?url={url}")
    assert response.status_code != 413
