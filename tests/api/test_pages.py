"""The home page and the API documentation pages load only files Lykta serves itself (no
CDN), so they work on an air-gapped server. tests/api/test_browser.py renders them in a
real browser."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lykta import __version__
from lykta.api.main import create_app
from lykta.app import Lykta
from tests.conftest import make_photo, make_settings


@pytest.fixture
def client(sqlite_core: Lykta) -> Iterator[TestClient]:
    """Pages are not about storage: SQLite only."""
    with TestClient(create_app(sqlite_core, follow_changes=False)) as c:
        yield c


def _assets(html: str) -> list[str]:
    """Every script, stylesheet and icon a page loads."""
    return re.findall(r'(?:src|href)="([^"]+)"', html)


@pytest.mark.parametrize("page", ["/docs", "/redoc", "/openapi/swagger", "/openapi/redoc"])
def test_docs_pages_load_only_local_files(client: TestClient, page: str) -> None:
    answer = client.get(page)
    assert answer.status_code == 200
    assets = _assets(answer.text)
    assert assets, f"{page} loads no script at all"
    for asset in assets:
        assert asset.startswith("/static/"), f"{page} loads {asset} from elsewhere"
        served = client.get(asset)
        assert served.status_code == 200 and len(served.content) > 100, asset
    assert "googleapis" not in answer.text and "cdn." not in answer.text
    spec = "/openapi/openapi.json" if page.startswith("/openapi/") else "/openapi.json"
    assert f"'{spec}'" in answer.text or f'"{spec}"' in answer.text
    assert client.get(spec).status_code == 200


def test_docs_links_follow_a_proxy_prefix(client: TestClient) -> None:
    answer = client.get("/docs")
    assert '"/static/swagger-ui/swagger-ui-bundle.js"' in answer.text
    with TestClient(client.app, root_path="/lykta") as prefixed:
        text = prefixed.get("/docs").text
    assert '"/lykta/static/swagger-ui/swagger-ui-bundle.js"' in text
    assert "'/lykta/openapi.json'" in text


def test_static_files_are_not_listed_and_missing_ones_are_404(client: TestClient) -> None:
    assert client.get("/static/").status_code == 404
    assert client.get("/static/swagger-ui/nothing.js").status_code == 404
    assert client.get("/static/../settings.py").status_code == 404


def test_home_page_shows_version_index_banks_and_links(sqlite_core: Lykta) -> None:
    sqlite_core.banks.create("ncmec", source="NCMEC <hotline>")
    sqlite_core.banks.create("false-positives", negative=True)
    sqlite_core.add_media("ncmec", make_photo(3), external_id="a1")
    with TestClient(create_app(sqlite_core, follow_changes=False)) as client:
        page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text
    assert f'Lykta <span class="version">{__version__}</span>' in text
    assert "<td>ncmec</td>" in text and "<td>false-positives</td>" in text
    assert "NCMEC &lt;hotline&gt;" in text  # escaped
    assert "Ready: 3 hashes" in text
    for link in ("/docs", "/redoc", "/openapi.json"):
        assert f'href="{link}"' in text
    for address in _assets(text):  # scripts, styles and links: all on this server
        assert address.startswith("/") and not address.startswith("//"), address
    # The page runs only its own script: no inline code, and no form post that could put
    # the token in a URL or a log.
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "form-action 'none'" in policy
    assert "<script>" not in text
    assert 'type="password"' in text and 'autocomplete="off"' in text


def test_home_page_can_leave_the_banks_out(tmp_path: Path) -> None:
    core = Lykta.open(make_settings(tmp_path / "home", home_banks=False))
    try:
        core.banks.create("ncmec")
        with TestClient(create_app(core, follow_changes=False)) as client:
            text = client.get("/").text
    finally:
        core.close()
    assert "ncmec" not in text and "LYKTA_HOME_BANKS=false" in text


def test_home_page_says_when_not_ready(sqlite_core: Lykta) -> None:
    sqlite_core.live = False
    with TestClient(create_app(sqlite_core, follow_changes=False)) as client:
        text = client.get("/").text
    assert "Not ready" in text and "index: not loaded" in text
