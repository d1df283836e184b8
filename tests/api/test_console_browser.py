"""The review console in a real browser (Debian's Chromium, headless, driven by
Playwright) against `lykta serve`: sign-in and lock-out, and a case decided from the
keyboard, with no request to another host and no script or style the page's policy blocks.

Skipped where Chromium or Playwright is missing, failed instead under CI (.ci/run installs
both).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest

from lykta.alerts import NewAlert
from lykta.app import Lykta
from lykta.auth.users import Role
from tests.conftest import TEST_EVIDENCE_KEY, make_settings

PASSWORD = "correct horse battery"


@dataclass
class Server:
    url: str
    case_id: int


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("console") / "home"
    core = Lykta.open(make_settings(home))
    try:
        core.users.create("rita", Role.REVIEWER, PASSWORD, actor="test")
        core.users.create("lena", Role.REVIEWER, PASSWORD, actor="test")
        recorded = core.alerts.record(
            NewAlert(
                "stream",
                "live-7",
                "",
                12.0,
                "known",
                1,
                "clip-a",
                ("A1",),
                "pdq",
                4,
                "original",
                subject="acct-7",
            )
        )
        assert recorded.case_id is not None
        case_id = recorded.case_id
    finally:
        core.close()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    env = {**os.environ, "LYKTA_HOME": str(home), "LYKTA_DATABASE_URL": "",
           "LYKTA_EVIDENCE_KEY": TEST_EVIDENCE_KEY,
           "LYKTA_LOGIN_MAX_FAILURES": "3"}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "lykta", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise AssertionError(f"lykta serve did not start: {process.stderr.read()!r}")  # type: ignore[union-attr]
            time.sleep(0.2)
        yield Server(url, case_id)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def page(browser: object, server: Server) -> Iterator[tuple[object, list[str], list[str]]]:
    """A page whose requests to any other host are blocked and recorded, with its console
    errors (a Content-Security-Policy violation is one)."""
    context = browser.new_context()  # type: ignore[attr-defined]
    blocked: list[str] = []
    errors: list[str] = []

    def only_local(route, request) -> None:  # type: ignore[no-untyped-def]
        if urlsplit(request.url).hostname == "127.0.0.1":
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


def _sign_in(tab, server: Server, name: str, password: str) -> None:  # type: ignore[no-untyped-def]
    tab.goto(f"{server.url}/ui/login")
    tab.fill("input[name=name]", name)
    tab.fill("input[name=password]", password)
    tab.click("button[type=submit]")


def test_repeated_wrong_passwords_lock_the_account(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    tab, blocked, _ = page
    for _ in range(3):
        _sign_in(tab, server, "lena", "not her password")
        assert "wrong name or password" in tab.locator(".message").inner_text()
    _sign_in(tab, server, "lena", PASSWORD)
    assert "too many failed logins" in tab.locator(".message").inner_text()
    assert tab.url.endswith("/ui/login")
    assert blocked == []


def test_a_case_is_decided_from_the_keyboard(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    tab, blocked, errors = page
    _sign_in(tab, server, "rita", PASSWORD)
    tab.wait_for_url(f"{server.url}/ui")
    tab.click(f"a[href='/ui/cases/{server.case_id}']")
    assert "live-7" in tab.locator("table.alerts").inner_text()
    assert tab.locator("input[value=reported]").count() == 0  # a reviewer does not report
    tab.keyboard.press("c")
    assert tab.locator("input[value=confirmed]").is_checked()
    tab.keyboard.type("exact match on a verified bank")
    with tab.expect_navigation():
        tab.keyboard.press("Control+Enter")
    history = tab.locator("ol.history").inner_text()
    assert "user:rita decision new → confirmed" in history
    assert "exact match on a verified bank" in history
    assert tab.locator("h1 .state").inner_text() == "confirmed"
    assert blocked == [] and errors == []
