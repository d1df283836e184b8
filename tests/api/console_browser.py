"""What the browser tests of the review console share: `lykta serve` run over a home,
a browser tab that may reach nothing but the local server, sign-in, and waits on what the
page shows (a CSS filter settled, images loaded)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tests.conftest import TEST_EVIDENCE_KEY
from tests.ports import free_port

PASSWORD = "correct horse battery"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@dataclass(frozen=True)
class Served:
    url: str
    process: subprocess.Popen[bytes]

    def crash(self) -> None:
        """Kill the server and its worker processes at once, as a power cut would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


@contextmanager
def serving(home: Path, **env: str) -> Iterator[Served]:
    """`lykta serve` on a free port over ``home``, with ``env`` added to its environment
    (LYKTA_* settings); its URL and process."""
    port = free_port()
    env = {**os.environ, "LYKTA_HOME": str(home), "LYKTA_DATABASE_URL": "",
           "LYKTA_EVIDENCE_KEY": TEST_EVIDENCE_KEY,
           "LYKTA_LOGIN_MAX_FAILURES": "3", **env}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "lykta", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, with the HTTP workers it starts
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                # Ready: the database answers and the indexes are loaded.
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise AssertionError(f"lykta serve did not start: {process.stderr.read()!r}")  # type: ignore[union-attr]
            time.sleep(0.2)
        yield Served(url, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def browser_tab(browser: object) -> Iterator[tuple[object, list[str], list[str]]]:
    """A tab whose requests to any other host are blocked and recorded, with its console
    errors (a Content-Security-Policy violation is one)."""
    context = browser.new_context(accept_downloads=True)  # type: ignore[attr-defined]
    blocked: list[str] = []
    errors: list[str] = []

    def only_local(route, request) -> None:  # type: ignore[no-untyped-def]
        if urlsplit(request.url).hostname in LOCAL_HOSTS or request.url.startswith("data:"):
            route.continue_()
        else:
            blocked.append(request.url)
            route.abort()

    context.route("**/*", only_local)
    tab = context.new_page()
    tab.on("console", lambda message: message.type == "error" and errors.append(message.text))
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab, blocked, errors
    context.close()


def sign_in(tab, url: str, name: str, password: str) -> None:  # type: ignore[no-untyped-def]
    tab.goto(f"{url}/ui/login")
    tab.fill("input[name=name]", name)
    tab.fill("input[name=password]", password)
    tab.click("button[type=submit]")


def css_filter(tab, selector: str, expected: str) -> str:  # type: ignore[no-untyped-def]
    """The element's CSS filter once its transition has settled on ``expected`` (or after
    5 s, whatever it is then)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with contextlib.suppress(PlaywrightTimeout):  # the caller's assertion says what it was
        tab.wait_for_function(
            "([s, f]) => getComputedStyle(document.querySelector(s)).filter === f",
            arg=[selector, expected], timeout=5000,
        )  # fmt: skip
    return str(tab.eval_on_selector(selector, "e => getComputedStyle(e).filter"))


def all_loaded(tab, selector: str) -> None:  # type: ignore[no-untyped-def]
    tab.wait_for_function(
        "s => [...document.querySelectorAll(s)].every(i => i.complete && i.naturalWidth > 0)",
        arg=selector,
    )
