"""The review console over HTTP, on SQLite and PostgreSQL: sign-in with lock-out, CSRF on
every form, the queue, a case and the decision flow with roles. (In a real browser:
tests/api/test_console_browser.py.)"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from lykta.alerts import NewAlert
from lykta.app import Lykta
from lykta.auth.users import Role
from lykta.settings import Settings
from tests.conftest import make_settings

PASSWORD = "correct horse battery"


def alert(subject: str, source_kind: str = "photo") -> NewAlert:
    return NewAlert(
        source_kind, "upload-1", "", None, "known", 1, "item-1", ("A1",), "pdq", 3,
        "original", subject=subject,
    )  # fmt: skip


@pytest.fixture
def console_core(settings: Settings) -> Lykta:
    core = Lykta.open(
        make_settings(settings.home, database_url=settings.database_url, login_max_failures=3)
    )
    core.users.create("rita", Role.REVIEWER, PASSWORD, actor="test")
    core.users.create("cas", Role.CHILD_SAFETY, PASSWORD, actor="test")
    return core


@pytest.fixture
def browser(console_core: Lykta):  # type: ignore[no-untyped-def]
    from lykta.api.main import create_app

    with TestClient(create_app(console_core, follow_changes=False)) as client:
        yield client
    console_core.close()


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> int:
    form = client.get("/ui/login")
    answer = client.post(
        "/ui/login",
        data={"name": name, "password": password, "csrf": csrf_of(form.text)},
        follow_redirects=False,
    )
    return answer.status_code


def test_sign_in_locks_out_after_repeated_failures(
    browser: TestClient, console_core: Lykta
) -> None:
    assert browser.get("/ui", follow_redirects=False).headers["location"] == "/ui/login"
    assert sign_in(browser, "rita", "wrong password") == 401
    assert sign_in(browser, "nobody", "wrong password") == 401
    assert sign_in(browser, "rita", "wrong again") == 401
    assert sign_in(browser, "rita", "and again!") == 401  # the third: locked
    form = browser.get("/ui/login")
    locked = browser.post(
        "/ui/login", data={"name": "rita", "password": PASSWORD, "csrf": csrf_of(form.text)}
    )
    assert locked.status_code == 401 and "too many failed logins" in locked.text
    actions = [e.action for e in console_core.audit.list()]
    assert actions.count("login.failure") == 4 and "login.locked" in actions
    # The sign-in form's CSRF token must match its cookie.
    refused = browser.post("/ui/login", data={"name": "cas", "password": PASSWORD, "csrf": "x"})
    assert refused.status_code == 403
    assert sign_in(browser, "cas") == 303


def test_a_reviewer_confirms_and_child_safety_reports(
    browser: TestClient, console_core: Lykta
) -> None:
    case_id = console_core.alerts.record(alert("acct-1", "stream")).case_id
    console_core.alerts.record(alert("acct-2"))
    assert sign_in(browser, "rita") == 303
    queue = browser.get("/ui")
    assert (
        queue.status_code == 200
        and "default-src 'none'" in queue.headers["content-security-policy"]
    )
    assert queue.text.index("acct-1") < queue.text.index("acct-2")  # the stream first
    assert "acct-2" not in browser.get("/ui?state=confirmed").text
    page = browser.get(f"/ui/cases/{case_id}")
    assert "known/item-1" in page.text and 'value="reported"' not in page.text
    token = csrf_of(page.text)
    forged = browser.post(f"/ui/cases/{case_id}/decision", data={"decision": "confirmed"})
    assert forged.status_code == 403
    done = browser.post(
        f"/ui/cases/{case_id}/decision",
        data={"decision": "confirmed", "note": "seen", "csrf": token},
        follow_redirects=False,
    )
    assert done.status_code == 303
    page = browser.get(f"/ui/cases/{case_id}")
    assert "user:rita decision new → confirmed" in page.text
    refused = browser.post(
        f"/ui/cases/{case_id}/decision", data={"decision": "reported", "csrf": token}
    )
    assert refused.status_code == 403 and "child_safety" in refused.text
    browser.post("/ui/logout", data={"csrf": token})
    assert browser.get("/ui", follow_redirects=False).status_code == 303

    assert sign_in(browser, "cas") == 303
    page = browser.get(f"/ui/cases/{case_id}")
    assert 'value="reported"' in page.text
    browser.post(
        f"/ui/cases/{case_id}/decision",
        data={"decision": "reported", "csrf": csrf_of(page.text)},
    )
    assert case_id is not None
    assert console_core.cases.get(case_id, viewer="t").case.state == "reported"
    assert browser.get("/ui/cases/999999").status_code == 404
