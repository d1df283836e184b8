"""`lykta report`, `lykta evidence` and `lykta export` as an operator types them, against
the local CyberTipline stand-in."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lykta.alerts import NewAlert
from lykta.app import Lykta
from lykta.auth.users import Role
from lykta.cli import app
from tests.conftest import TEST_EVIDENCE_KEY
from tests.reports.cybertip_server import PASSWORD, USER, State, cybertipline


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[State]:
    monkeypatch.setenv("LYKTA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LYKTA_DATABASE_URL", raising=False)
    monkeypatch.setenv("LYKTA_EVIDENCE_KEY", TEST_EVIDENCE_KEY)
    with cybertipline() as (url, state):
        monkeypatch.setenv("LYKTA_CYBERTIPLINE_URL", url)
        monkeypatch.setenv("LYKTA_CYBERTIPLINE_USERNAME", USER)
        monkeypatch.setenv("LYKTA_CYBERTIPLINE_PASSWORD", PASSWORD)
        yield state


def run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    assert "Traceback" not in result.stdout + result.stderr
    return result.stdout + result.stderr


def confirmed_case() -> int:
    core = Lykta.open(sync=False)
    try:
        core.users.create("cara", Role.CHILD_SAFETY, "benign-password-1", actor="t")
        core.users.create("rita", Role.REVIEWER, "benign-password-2", actor="t")
        alert = core.alerts.record(
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
        assert alert.case_id is not None
        core.cases.decide(alert.case_id, "confirmed", actor="user:rita")
        return alert.case_id
    finally:
        core.close()


def test_a_child_safety_user_reports_and_exports_a_case(server: State, tmp_path: Path) -> None:
    case_id = str(confirmed_case())
    assert "only child_safety users send reports" in run(
        "report", "cybertipline", case_id, "--as", "rita", code=1
    )
    assert "no user named 'nobody'" in run("report", "cybertipline", case_id, "--as", "nobody",
                                           code=1)  # fmt: skip
    assert "NCMEC report 100000" in run("report", "cybertipline", case_id, "--as", "cara")
    assert server.reports["100000"].state == "finished"
    lines = run("report", "status", case_id, "--json").splitlines()
    (status,) = [json.loads(line) for line in lines if line.startswith("{")]
    assert (status["step"], status["lost"], status["actor"]) == ("finished", False, "user:cara")
    assert "case_record" in run("evidence", "show", case_id)
    assert "report_xml" in run("evidence", "show", case_id)
    assert "--media needs --as a child_safety user" in run(
        "export", case_id, str(tmp_path / "x.zip"), "--media", "--as", "rita", code=1
    )
    run("export", case_id, str(tmp_path / "case.zip"), "--as", "rita")
    names = zipfile.ZipFile(tmp_path / "case.zip").namelist()
    assert sorted(names) == ["alerts.csv", "case.json"]
    run("evidence", "hold", case_id, "--note", "request 7")
    assert "purged 0 case(s)" in run("evidence", "purge")
    assert "intact" in run("audit", "verify")


def test_reporting_without_credentials_says_so(
    server: State, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = str(confirmed_case())
    monkeypatch.delenv("LYKTA_CYBERTIPLINE_PASSWORD")
    assert "LYKTA_CYBERTIPLINE_PASSWORD must be set" in run(
        "report", "cybertipline", case_id, "--as", "cara", code=1
    )
    assert "no reports" in run("report", "status", case_id)


def test_a_refused_step_exits_1_shows_in_status_and_resumes(server: State) -> None:
    case_id = str(confirmed_case())
    server.fail_next = ["", "http400:code4100"]  # the submit goes, the finish is refused
    failed = run("report", "cybertipline", case_id, "--as", "cara", code=1)
    assert failed.strip() == "error: the CyberTipline refused /finish: code 4100, failure 4100"
    status = run("report", "status", case_id)
    assert "submitted" in status and "last error: the CyberTipline refused /finish" in status
    assert "NCMEC report 100000" in run("report", "cybertipline", case_id, "--as", "cara")
    assert list(server.reports) == ["100000"] and server.reports["100000"].state == "finished"
    assert "last error" not in run("report", "status", case_id)
