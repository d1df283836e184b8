"""The home page and the API docs in a real browser (Debian's Chromium, headless, driven by
Playwright) against `lykta serve`, with every request to another host blocked: what an
operator on an air-gapped network sees.

Skipped where Chromium or Playwright is missing, failed instead under CI (.ci/run installs
both).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lykta.app import Lykta
from lykta.auth.tokens import Scope
from tests.api.console_browser import browser_tab, serving
from tests.conftest import make_photo, make_settings


@dataclass
class Server:
    url: str
    token: str
    photo: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("browser") / "home"
    photo = home.parent / "sample.jpg"
    photo.write_bytes(make_photo(7))
    core = Lykta.open(make_settings(home))
    try:
        core.banks.create("sample-bank", source="generated")
        core.add_media("sample-bank", photo, external_id="sample-1")
        token = core.tokens.create(Scope.MATCHER, "browser test")[1]
    finally:
        core.close()
    with serving(home) as served:
        yield Server(served.url, token, photo)


@pytest.fixture
def page(browser: object, server: Server) -> Iterator[tuple[object, list[str], list[str]]]:
    """A page that may reach nothing but the local server (see `browser_tab`)."""
    yield from browser_tab(browser)


def test_swagger_ui_shows_the_routes_offline(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    tab, blocked, errors = page
    tab.goto(f"{server.url}/docs")
    tab.locator(".opblock-summary-path[data-path='/api/v1/lookup']").first.wait_for(timeout=30_000)
    paths = tab.locator(".opblock-summary-path").evaluate_all(
        "nodes => nodes.map(node => node.dataset.path)"
    )
    assert {"/api/v1/lookup", "/api/v1/banks", "/m/raw_lookup", "/metrics"} <= set(paths)
    assert blocked == [] and errors == []


def test_hma_spec_in_swagger_ui_offline(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    tab, blocked, errors = page
    tab.goto(f"{server.url}/openapi/swagger")
    tab.locator(".opblock-summary-path[data-path='/m/raw_lookup']").first.wait_for(timeout=30_000)
    assert blocked == [] and errors == []


def test_redoc_renders_offline(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    tab, blocked, errors = page
    tab.goto(f"{server.url}/redoc")
    tab.locator("h1").filter(has_text="Lykta").first.wait_for(timeout=30_000)
    assert "/api/v1/lookup" in tab.content()
    assert blocked == []
    # The page's policy refuses Redoc's logo from redoc.ly before any request is made.
    assert [error for error in errors if "cdn.redoc.ly" not in error] == []


def test_home_page_checks_a_photo_with_a_pasted_token(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    tab, blocked, errors = page
    tab.goto(server.url)
    assert tab.locator("h1").inner_text().startswith("Lykta")
    assert tab.locator("#banks td").first.inner_text() == "sample-bank"
    assert "Ready: 3 hashes" in tab.locator("#index").inner_text()
    assert tab.locator("a[href='/docs']").count() == 1

    tab.fill("input[name=token]", "lykta_not-a-real-token")
    tab.set_input_files("input[name=file]", str(server.photo))
    tab.click("button[type=submit]")
    tab.locator("#result.error").wait_for(timeout=30_000)
    assert "401" in tab.locator("#result").inner_text()

    tab.fill("input[name=token]", server.token)
    tab.click("button[type=submit]")
    tab.locator("#result.match").wait_for(timeout=30_000)
    result = tab.locator("#result").inner_text()
    assert "1 match(es)" in result and "sample-bank" in result and "sample-1" in result
    # The page keeps the token nowhere but its own form field.
    stored = tab.evaluate("() => [localStorage.length, sessionStorage.length, document.cookie]")
    assert stored == [0, 0, ""]
    assert blocked == []
    assert [error for error in errors if "401" not in error] == []
