"""Real servers for stream tests: a folder served over HTTP (HLS, MPEG-TS), a webhook
receiver, nginx with its RTMP module, and a core whose banks hold benign clips."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from lykta.app import Lykta
from tests.conftest import make_settings
from tests.ports import free_port
from tests.streams.media import video_item, write_clip

# Banked clips: (external id, scenes). Seeds of unrelated scenes stay below 100.
CLIP_A = [(100, 1.0), (101, 1.0), (102, 1.0)]
CLIP_B = [(200, 1.0), (201, 1.0)]
# In a positive and a negative bank at once: a known false positive.
CLIP_FALSE_POSITIVE = [(300, 1.0), (301, 1.0)]


def wait_until(condition: Callable[[], object], timeout: float = 30.0) -> None:
    """Poll `condition` until it holds; fail with its last value after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(0.05)


@pytest.fixture(scope="session")
def banked_clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("banked")
    clips = {"clip-a": CLIP_A, "clip-b": CLIP_B, "false-positive": CLIP_FALSE_POSITIVE}
    for name, scenes in clips.items():
        write_clip(folder / f"{name}.mp4", scenes)
    return {name: folder / f"{name}.mp4" for name in clips}


@pytest.fixture
def watching_core(tmp_path: Path, banked_clips: dict[str, Path]) -> Iterator[Lykta]:
    """A core on SQLite whose bank `known` holds clips A, B and the false positive, which
    the negative bank `fp` holds too."""
    core = Lykta.open(make_settings(tmp_path / "home", webhook_secret="s3cret"))
    core.banks.create("known")
    core.banks.create("fp", negative=True)
    core.banks.add_content("known", [video_item(path, name) for name, path in banked_clips.items()])
    core.banks.add_content("fp", [video_item(banked_clips["false-positive"], "benign")])
    yield core
    core.close()


@pytest.fixture
def http_folder(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder and the http:// URL it is served at."""
    folder = tmp_path / "www"
    folder.mkdir()

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@dataclass
class Webhook:
    """A platform's webhook endpoint: records every call; refuses the first `fail_first`
    with 503, as a platform that is briefly down."""

    url: str = ""
    fail_first: int = 0
    calls: list[tuple[dict[str, str], bytes, int]] = field(default_factory=list)

    def accepted(self) -> list[tuple[dict[str, str], bytes]]:
        return [(headers, body) for headers, body, status in self.calls if status == 200]


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status = 503 if len(hook.calls) < hook.fail_first else 200
            hook.calls.append(({k.lower(): v for k, v in self.headers.items()}, body, status))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield hook
    server.shutdown()
    server.server_close()


NGINX_MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")


@pytest.fixture
def rtmp_server(tmp_path: Path) -> Iterator[str]:
    """nginx with the RTMP module on a free port, with its own configuration: the base URL
    of its `live` application. Missing nginx skips, or fails under CI."""
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None or not NGINX_MODULE.exists():
        message = "nginx with libnginx-mod-rtmp is needed (apt-get install nginx libnginx-mod-rtmp)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    config = prefix / "nginx.conf"
    config.write_text(
        f"load_module {NGINX_MODULE};\n"
        "daemon off;\nmaster_process off;\n"
        f"pid {prefix}/nginx.pid;\nerror_log {prefix}/error.log warn;\n"
        "events { worker_connections 64; }\n"
        f"rtmp {{ server {{ listen 127.0.0.1:{port}; "
        "application live { live on; record off; } } }\n"
    )
    process = subprocess.Popen(
        [nginx, "-p", str(prefix), "-c", str(config), "-e", str(prefix / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(lambda: _accepts(port) or process.poll() is not None, timeout=10)
        if process.poll() is not None:
            pytest.fail(
                f"nginx did not start: {process.stderr.read().decode() if process.stderr else ''}"
            )
        yield f"rtmp://127.0.0.1:{port}/live"
    finally:
        process.terminate()
        process.wait(10)


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
