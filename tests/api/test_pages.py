"""The API documentation pages load only files Lykta serves itself (no CDN), so they work
on an air-gapped server."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from lykta.api.main import create_app
from lykta.app import Lykta


@pytest.fixture
def client(sqlite_core: Lykta) -> Iterator[TestClient]:
    """Pages are not about storage: SQLite only."""
    with TestClient(create_app(sqlite_core, follow_changes=False)) as c:
        yield c


def _assets(html: str) -> list[str]:
    """Every script, stylesheet and icon a page loads."""
    return re.findall(r'(?:src|href)="([^"]+)"', html)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
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
    assert "/openapi.json" in answer.text


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
