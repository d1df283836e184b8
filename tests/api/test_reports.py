"""Reports, exports and evidence over HTTP with a child_safety token, against the local
CyberTipline stand-in."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from lykta.alerts import NewAlert
from lykta.api.main import create_app
from lykta.app import Lykta
from lykta.auth.tokens import Scope
from lykta.settings import Settings
from tests.conftest import make_settings
from tests.reports.cybertip_server import PASSWORD, USER, State, cybertipline


@pytest.fixture
def running(settings: Settings) -> Iterator[tuple[TestClient, Lykta, State]]:
    with cybertipline() as (url, state):
        core = Lykta.open(
            make_settings(
                settings.home, database_url=settings.database_url, cybertipline_url=url,
                cybertipline_username=USER, cybertipline_password=PASSWORD,
            )
        )  # fmt: skip
        app = create_app(core, follow_changes=False)
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client, core, state
        core.close()


def bearer(core: Lykta, scope: Scope) -> dict[str, str]:
    return {"Authorization": f"Bearer {core.tokens.create(scope, scope.value)[1]}"}


def test_a_child_safety_token_reports_exports_and_holds(
    running: tuple[TestClient, Lykta, State],
) -> None:
    client, core, state = running
    cs, reviewer = bearer(core, Scope.CHILD_SAFETY), bearer(core, Scope.REVIEWER)
    alert = core.alerts.record(
        NewAlert(
            "photo",
            "sha256:" + "ab" * 32,
            "",
            None,
            "known",
            1,
            "x",
            ("B1",),
            "pdq",
            0,
            "original",
            subject="user:5",
        )
    )
    case = f"/api/v1/cases/{alert.case_id}"
    assert client.post(f"{case}/reports/cybertipline", headers=cs).status_code == 409
    decided = client.post(f"{case}/decision", headers=cs, json={"decision": "confirmed"})
    assert decided.status_code == 200
    assert client.post(f"{case}/reports/cybertipline", headers=reviewer).status_code == 403
    sent = client.post(f"{case}/reports/cybertipline", headers=cs)
    assert sent.status_code == 200, sent.text
    assert sent.json()["step"] == "finished" and len(state.reports) == 1
    listed = client.get(f"{case}/reports", headers=cs).json()
    assert [r["ncmec_report_id"] for r in listed] == [sent.json()["ncmec_report_id"]]
    exported = client.get(f"{case}/export", headers=cs)
    assert exported.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(exported.content)).namelist()
    assert sorted(names) == ["alerts.csv", "case.json"]
    assert client.get(f"{case}/export", headers=reviewer).status_code == 403
    evidence = client.get(f"{case}/evidence", headers=cs).json()
    assert {item["kind"] for item in evidence["items"]} == {"case_record", "report_xml"}
    held = client.post(f"{case}/evidence/hold", headers=cs, json={"hold": True, "note": "n"})
    assert held.json()["legal_hold"] is True
    assert client.get("/api/v1/cases/999/reports", headers=cs).status_code == 404
    assert client.post("/api/v1/cases/999/reports/cybertipline", headers=cs).status_code == 404
