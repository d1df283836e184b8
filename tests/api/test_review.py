"""Review over HTTP, on SQLite and PostgreSQL: look-ups that record alerts, the case
queue, decisions with their scopes, context, quarantine and the audit log."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from lykta.app import Lykta
from lykta.auth.tokens import Scope
from lykta.banks.items import ContentItem
from tests.conftest import Tokens

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


class ReviewTokens(Tokens):
    def __init__(self, core: Lykta) -> None:
        super().__init__(core)
        self.reviewer = core.tokens.create(Scope.REVIEWER, "rita")[1]
        self.child_safety = core.tokens.create(Scope.CHILD_SAFETY, "cas")[1]


@pytest.fixture
def auth(core: Lykta) -> ReviewTokens:
    core.banks.create("known")
    core.banks.create("fp", negative=True)
    core.banks.add_content("known", [ContentItem.of_hash("pdq", PDQ, "item-1")])
    core.matcher.sync()
    return ReviewTokens(core)


def test_a_recorded_look_up_becomes_a_case_that_is_decided_and_reported(
    client: TestClient, auth: ReviewTokens
) -> None:
    lookup = f"/api/v1/lookup?hash={PDQ}&record=true&subject={quote('acct/7')}&source_id=up-1"
    found = client.get(lookup, headers=auth.header("matcher"))
    assert found.status_code == 200 and found.json()["matches"][0]["external_id"] == "item-1"
    # Without record=true nothing is recorded, whatever path answers.
    assert (
        client.get(f"/api/v1/lookup?hash={PDQ}", headers=auth.header("matcher")).status_code == 200
    )
    batch = client.post(
        "/api/v1/lookup/batch",
        json={"hashes": [{"hash": PDQ}], "record": True, "subject": "acct/7"},
        headers=auth.header("matcher"),
    )
    assert batch.status_code == 200

    alerts = client.get("/api/v1/alerts", headers=auth.header("reviewer")).json()
    assert [(a["subject"], a["source_id"], a["bank"]) for a in alerts] == [
        ("acct/7", f"pdq:{PDQ}", "known"), ("acct/7", "up-1", "known"),
    ]  # fmt: skip
    assert alerts[0]["case_id"] == alerts[1]["case_id"]
    case_id = alerts[0]["case_id"]

    context = client.post(
        f"/api/v1/subjects/{quote('acct/7', safe='')}/context",
        json={"kind": "ip_capture", "value": "192.0.2.7", "event": "upload",
              "at": "2026-05-01T12:00:00+02:00"},
        headers=auth.header("matcher"),
    )  # fmt: skip
    assert context.status_code == 201, context.text
    assert context.json()["at"].startswith("2026-05-01T10:00:00")

    queue = client.get("/api/v1/cases?state=new&bank=known", headers=auth.header("reviewer"))
    assert [c["id"] for c in queue.json()] == [case_id]
    case = client.get(f"/api/v1/cases/{case_id}", headers=auth.header("reviewer")).json()
    assert (case["subject"], case["alert_count"], case["state"]) == ("acct/7", 2, "new")
    assert [c["value"] for c in case["context"]] == ["192.0.2.7"]

    def decide(scope: str, decision: str, note: str = "") -> dict[str, object]:
        answer = client.post(
            f"/api/v1/cases/{case_id}/decision",
            json={"decision": decision, "note": note},
            headers=auth.header(scope),
        )
        return {"status": answer.status_code, **answer.json()}

    assert decide("reviewer", "confirmed", "exact hash, verified bank")["state"] == "confirmed"
    refused = decide("reviewer", "reported")
    assert refused["status"] == 403 and "child_safety" in str(refused["detail"])
    assert decide("reviewer", "closed")["status"] == 409
    reported = decide("child_safety", "reported", "sent")
    assert reported["state"] == "reported"
    rita, cas = (_token_id(client, name) for name in ("rita", "cas"))
    actors = [e["actor"] for e in reported["history"]]  # type: ignore[attr-defined]
    assert actors[-2:] == [f"token:{rita}:rita", f"token:{cas}:cas"]

    audit = client.get("/api/v1/audit?action=case.decision", headers=auth.header("admin"))
    assert [e["detail"]["to"] for e in audit.json()] == ["reported", "confirmed"]
    assert client.get("/api/v1/audit", headers=auth.header("reviewer")).status_code == 403


def _token_id(client: TestClient, name: str) -> int:
    core: Lykta = client.app.state.core  # type: ignore[attr-defined]
    return next(t.id for t in core.tokens.list() if t.name == name)


def test_scopes_and_bad_input_are_refused_with_a_message(
    client: TestClient, auth: ReviewTokens
) -> None:
    matcher, reviewer = auth.header("matcher"), auth.header("reviewer")
    for url, message in [
        (f"/api/v1/lookup?hash={PDQ}&record=true", "needs a subject"),
        (f"/api/v1/lookup?hash={PDQ}&subject=x", "only used with record=true"),
        (f"/api/v1/lookup?hash={PDQ}&record=true&subject=a%00b", "printable"),
    ]:
        answer = client.get(url, headers=matcher)
        assert answer.status_code == 422 and message in answer.json()["detail"], answer.text
    assert client.get("/api/v1/cases", headers=matcher).status_code == 403
    assert client.get("/api/v1/cases", headers=auth.header("curator")).status_code == 403
    assert client.get(f"/api/v1/lookup?hash={PDQ}", headers=reviewer).status_code == 403
    assert client.get("/api/v1/cases?state=done", headers=reviewer).status_code == 422
    assert client.get("/api/v1/cases?assignee=a%00", headers=reviewer).status_code == 422
    assert client.get("/api/v1/cases/99", headers=reviewer).status_code == 404
    assert client.get("/api/v1/alerts/99", headers=reviewer).status_code == 404
    bad = client.post(
        "/api/v1/subjects/acct/context", json={"kind": "email", "value": "nope"}, headers=matcher
    )
    assert bad.status_code == 422 and "not an email" in bad.json()["detail"]
    naive = client.post(
        "/api/v1/subjects/acct/context",
        json={"kind": "chat", "value": "hi", "at": "2026-05-01T12:00:00"},
        headers=matcher,
    )
    assert naive.status_code == 422
    assert (
        client.post(
            "/api/v1/alerts/99/context", json={"kind": "chat", "value": "hi"}, headers=matcher
        ).status_code
        == 404
    )


def test_a_false_positive_goes_to_a_negative_bank_and_the_item_towards_quarantine(
    client: TestClient, auth: ReviewTokens
) -> None:
    headers = auth.header("matcher")
    client.get(f"/api/v1/lookup?hash={PDQ}&record=true&subject=u1", headers=headers)
    [alert] = client.get("/api/v1/alerts", headers=auth.header("reviewer")).json()
    answer = client.post(
        f"/api/v1/cases/{alert['case_id']}/decision",
        json={"decision": "false_positive", "note": "a logo", "negative_bank": "fp"},
        headers=auth.header("reviewer"),
    )
    assert answer.status_code == 200, answer.text
    again = client.get(f"/api/v1/lookup?hash={PDQ}", headers=headers).json()
    assert again["matches"] == [] and again["suppressed_by"][0]["bank"] == "fp"
    counted = client.get("/api/v1/quarantine?all=true", headers=auth.header("reviewer")).json()
    assert [(m["bank"], m["false_positives"], m["quarantined_at"]) for m in counted] == [
        ("known", 1, None)
    ]
    assert client.get("/api/v1/quarantine", headers=auth.header("reviewer")).json() == []
    assigned = client.post(
        f"/api/v1/cases/{alert['case_id']}/assignee",
        json={"assignee": "rita"},
        headers=auth.header("reviewer"),
    )
    assert assigned.json()["assignee"] == "rita"
