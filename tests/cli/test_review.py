"""`lykta case` and `lykta audit` as an operator types them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from lykta.alerts import NewAlert
from lykta.app import Lykta
from lykta.cli import app
from tests.conftest import TEST_EVIDENCE_KEY


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LYKTA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LYKTA_DATABASE_URL", raising=False)
    monkeypatch.setenv("LYKTA_EVIDENCE_KEY", TEST_EVIDENCE_KEY)
    return tmp_path / "home"


def run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    assert "Traceback" not in result.stdout + result.stderr
    return result.stdout + result.stderr


def test_an_operator_works_a_case_and_verifies_the_log(home: Path) -> None:
    core = Lykta.open(sync=False)
    try:
        recorded = core.alerts.record(
            NewAlert(
                "stream",
                "live-1",
                "",
                4.0,
                "known",
                1,
                "clip-a",
                (),
                "pdq",
                6,
                "original",
                subject="user:9",
            )
        )
    finally:
        core.close()
    case_id = str(recorded.case_id)
    [listed] = [json.loads(line) for line in run("case", "list", "--json").splitlines()]
    assert (listed["id"], listed["subject"], listed["state"]) == (recorded.case_id, "user:9", "new")
    assert "stream live-1 at 4 s matched known/clip-a" in run("case", "show", case_id)
    run("case", "assign", case_id, "alice", "--as", "lead")
    assert "now confirmed" in run("case", "decide", case_id, "confirmed", "--as", "alice",
                                  "--note", "seen")  # fmt: skip
    assert "cannot become closed" in run("case", "decide", case_id, "closed", code=1)
    assert "unknown case state" in run("case", "decide", case_id, "done", code=1)
    assert "no case with id 99" in run("case", "show", "99", code=1)
    shown = json.loads(run("case", "show", case_id, "--json"))
    assert [(e["actor"], e["action"]) for e in shown["history"]][1:] == [
        ("cli:lead", "assigned"), ("cli:alice", "decision"),
    ]  # fmt: skip
    run("token", "create", "--scope", "reviewer", "--name", "rita")

    assert "audit log intact: " in run("audit", "verify")
    actions = [json.loads(line)["action"] for line in run("audit", "list", "--json").splitlines()]
    assert {"case.view", "case.assign", "case.decision", "token.create"} <= set(actions)
    core = Lykta.open(sync=False)
    try:
        with core.engine.begin() as connection:
            connection.execute(text("UPDATE audit_entry SET detail = '{}' WHERE id = 2"))
    finally:
        core.close()
    assert "broken at entry 2: it was edited" in run("audit", "verify", code=1)


def test_user_create_reads_the_password_from_stdin(home: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["user", "create", "rita", "--role", "reviewer", "--password-stdin", "--json"],
        input="correct horse battery\n",
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["role"] == "reviewer"
    again = CliRunner().invoke(
        app, ["user", "create", "rita", "--role", "reviewer", "--password-stdin"], input="x" * 12
    )
    assert again.exit_code == 1 and "exists already" in again.stderr
    short = CliRunner().invoke(
        app, ["user", "create", "bob", "--role", "admin", "--password-stdin"], input="short\n"
    )
    assert short.exit_code == 1 and "a password is 12 to" in short.stderr
    role = CliRunner().invoke(app, ["user", "create", "eve", "--role", "root", "--password-stdin"])
    assert role.exit_code == 1 and "unknown role 'root'" in role.stderr
