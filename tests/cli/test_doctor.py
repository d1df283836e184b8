"""`lykta doctor`: each check's finding, exit code 1 only when one fails, and nothing
changed by looking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from lykta.app import Lykta
from lykta.auth.tokens import Scope
from lykta.cli import app
from lykta.settings import load_settings


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LYKTA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LYKTA_DATABASE_URL", raising=False)
    return tmp_path / "home"


def doctor(code: int) -> dict[str, list[tuple[str, str]]]:
    result = CliRunner().invoke(app, ["doctor", "--json"])
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    found: dict[str, list[tuple[str, str]]] = {}
    for row in map(json.loads, result.stdout.splitlines()):
        found.setdefault(row["check"], []).append((row["status"], row["message"]))
    return found


def test_a_fresh_install_has_warnings_and_no_database_is_created(home: Path) -> None:
    found = doctor(0)
    assert found["database"][0][0] == "warn" and "no database yet" in found["database"][0][1]
    assert not home.exists()


def test_a_set_up_server_is_all_ok(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LYKTA_EVIDENCE_KEY", "ab" * 32)
    with Lykta.open(load_settings()) as core:
        core.banks.create("ncmec")
        core.tokens.create(Scope.MATCHER, "uploads")
    found = doctor(0)
    for check in ("settings", "evidence", "database", "migrations", "index", "banks", "tokens"):
        assert [status for status, _ in found[check]] == ["ok"], found[check]
    assert "1 live (matcher)" in found["tokens"][0][1]


def test_missing_tokens_and_misspelt_variables_warn(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Lykta.open(load_settings()).close()
    monkeypatch.setenv("LYKTA_WORKRES", "2")
    found = doctor(0)
    assert ("warn", "LYKTA_WORKRES is not a Lykta setting and is ignored; did you mean "
            "LYKTA_WORKERS?") in found["settings"]  # fmt: skip
    assert found["tokens"][0][0] == "warn" and "lykta token create" in found["tokens"][0][1]


def test_a_schema_newer_than_this_lykta_fails(home: Path) -> None:
    with Lykta.open(load_settings()) as core, core.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_newer'"))
    found = doctor(1)
    assert found["migrations"] == [
        ("fail", "the database is at ['9999_newer'], newer than this Lykta: upgrade Lykta")
    ]


def test_bad_settings_and_unreachable_databases_fail(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LYKTA_PORT", "eighty")
    assert doctor(1)["settings"][0][0] == "fail"
    monkeypatch.delenv("LYKTA_PORT")
    monkeypatch.setenv("LYKTA_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/x")
    status, message = doctor(1)["database"][0]
    assert status == "fail" and message.startswith("postgresql: ")


def test_a_missing_evidence_key_warns_and_a_bad_one_fails(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LYKTA_EVIDENCE_KEY", raising=False)
    assert "LYKTA_EVIDENCE_KEY is not set" in doctor(0)["evidence"][0][1]
    monkeypatch.setenv("LYKTA_EVIDENCE_KEY", "not-a-key")
    assert doctor(1)["evidence"] == [
        ("fail", "LYKTA_EVIDENCE_KEY must be 32 bytes: 64 hex digits or base64")
    ]
