"""A write that cannot get the database within LYKTA_DATABASE_WAIT is refused as busy: a 503
with Retry-After over HTTP, one line and exit code 1 from the CLI, never a 500 or a hang."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from lykta.api.main import create_app
from lykta.app import Lykta
from lykta.cli import app as cli
from lykta.errors import DatabaseBusy
from tests.conftest import Tokens, make_settings

WAIT = 0.3


@contextmanager
def write_locked(url: str) -> Iterator[None]:
    """Hold the write lock from another connection, as a long import does: it holds the
    change-log row (PostgreSQL) or the database's write lock (SQLite) until it commits."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("UPDATE sync_state SET revision = revision WHERE id = 1"))
            yield
            connection.rollback()
    finally:
        engine.dispose()


@pytest.fixture
def busy_core(tmp_path: Path, database_url: str) -> Iterator[Lykta]:
    core = Lykta.open(
        make_settings(tmp_path / "home", database_url=database_url, database_wait=WAIT)
    )
    yield core
    core.close()


def test_core_write_raises_database_busy(busy_core: Lykta, database_url: str) -> None:
    with write_locked(database_url), pytest.raises(DatabaseBusy, match="LYKTA_DATABASE_WAIT"):
        busy_core.banks.create("a")
    busy_core.banks.create("a")  # the lock is gone: writes work again


@pytest.mark.parametrize("path", ["/api/v1/banks", "/c/banks"], ids=["native", "hma"])
def test_http_write_is_503_with_retry_after(busy_core: Lykta, database_url: str, path: str) -> None:
    tokens = Tokens(busy_core)
    app = create_app(busy_core, follow_changes=False)
    with TestClient(app, raise_server_exceptions=False) as client, write_locked(database_url):
        # a name both APIs take (HMA's routes want UPPER_WITH_UNDERSCORE)
        response = client.post(path, json={"name": "A"}, headers=tokens.header("curator"))
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"].isdigit()
    assert "busy" in response.json()["detail"]


def test_cli_write_is_one_line_and_exit_1(
    busy_core: Lykta, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LYKTA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LYKTA_DATABASE_URL", database_url)
    monkeypatch.setenv("LYKTA_DATABASE_WAIT", str(WAIT))
    with write_locked(database_url):
        result = CliRunner().invoke(cli, ["bank", "create", "a"])
    assert result.exit_code == 1, (result.stdout, result.stderr, result.exception)
    [line] = result.stderr.splitlines()
    assert "database is busy" in line and "try again" in line
