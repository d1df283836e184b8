"""The review console over HTTP, on SQLite and PostgreSQL: sign-in with lock-out, CSRF on
every form, the queue, a case and the decision flow with roles; media (on request, to
child_safety and admin only, counted and audited), preferences, the break reminder, and the
report and export buttons. (In a real browser: tests/api/test_console_browser.py.)"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lykta.alerts import MatchSource, NewAlert
from lykta.app import Lykta
from lykta.auth.tokens import Scope
from lykta.auth.users import Role
from lykta.settings import Settings
from tests.conftest import make_photo, make_settings
from tests.videogen import write_video

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


# --- media, preferences, the break reminder, report and export -------------------------------

MEDIA_ROUTES = ("", "/video", "/frames/0", "/frames/1")


@pytest.fixture
def media_case(tmp_path: Path) -> Iterator[tuple[Lykta, int, str, str]]:
    """A core (SQLite: storage is not the subject) keeping uploads, with one case holding
    a kept photo and a kept video, and a reviewer, a child_safety user and an admin."""
    core = Lykta.open(make_settings(tmp_path / "home", evidence_keep_uploads=True))
    core.banks.create("known")
    photo = make_photo(11)
    video = write_video(tmp_path / "clip.mp4", [5, 6], scene_seconds=2).read_bytes()
    core.add_media("known", photo, external_id="p1")
    core.add_media("known", video, external_id="v1")
    # The platform's own source ids: the kept bytes are still found by their SHA-256.
    found = core.lookup_photo(photo, source=MatchSource("acct-5", "upload-77"))
    assert found.result.matches
    hashes = core.hash_video(io.BytesIO(video))
    assert core.lookup_video(hashes, source=MatchSource("acct-5", "upload-78")).matches
    core.evidence.keep_upload(video)  # as POST /lookup does after a video's look-up
    for name, role in (("rita", Role.REVIEWER), ("cas", Role.CHILD_SAFETY), ("ada", Role.ADMIN)):
        core.users.create(name, role, PASSWORD, actor="test")
    case_id = core.cases.queue()[0].id
    yield core, case_id, found.hashes.sha256, hashes.sha256
    core.close()


def test_media_is_shown_on_request_blurred_counted_and_audited(
    media_case: tuple[Lykta, int, str, str],
) -> None:
    from lykta.api.main import create_app

    core, case_id, photo_sha, video_sha = media_case
    with TestClient(create_app(core, follow_changes=False)) as client:
        assert sign_in(client, "cas") == 303
        page = client.get(f"/ui/cases/{case_id}")
        # Metadata first: no media URL on the page until asked.
        assert f"/media/{photo_sha}" not in page.text and 'id="show-media"' in page.text
        assert 'id="decidable"' in page.text  # exact matches: decidable without media
        assert 'class="blur-6 reveal-click grey"' in page.text
        shown = client.get(f"/ui/cases/{case_id}?media=1")
        assert f'src="/ui/cases/{case_id}/media/{photo_sha}"' in shown.text
        frames = re.findall(rf"/media/{video_sha}/frames/(\d+)", shown.text)
        assert frames == [str(n) for n in range(8)]
        assert "muted" in shown.text and "autoplay" not in shown.text
        assert "media-src 'self'" in shown.headers["content-security-policy"]
        jpeg = client.get(f"/ui/cases/{case_id}/media/{photo_sha}")
        assert jpeg.status_code == 200 and jpeg.content[:3] == b"\xff\xd8\xff"
        assert jpeg.headers["cache-control"] == "no-store, private"
        assert jpeg.headers["content-security-policy"] == "default-src 'none'; sandbox"
        frame = client.get(f"/ui/cases/{case_id}/media/{video_sha}/frames/3")
        assert frame.status_code == 200 and frame.headers["content-type"] == "image/jpeg"
        video = client.get(f"/ui/cases/{case_id}/media/{video_sha}/video")
        assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
        assert client.get(f"/ui/cases/{case_id}/media/{video_sha}/frames/8").status_code == 404
        assert client.get(f"/ui/cases/{case_id}/media/{'0' * 64}").status_code == 404
        assert 'media-views">3<' in client.get("/ui").text
    views = [e for e in core.audit.list() if e.action == "media.view"]
    assert sorted((v.actor, v.detail["part"]) for v in views) == [
        ("user:cas", "frame:3"), ("user:cas", "photo"), ("user:cas", "video"),
    ]  # fmt: skip
    assert {v.detail["sha256"] for v in views} == {photo_sha, video_sha}


def test_a_reviewer_gets_no_media_by_any_url(media_case: tuple[Lykta, int, str, str]) -> None:
    from lykta.api.main import create_app

    core, case_id, photo_sha, video_sha = media_case
    with TestClient(create_app(core, follow_changes=False)) as client:
        assert sign_in(client, "rita") == 303
        page = client.get(f"/ui/cases/{case_id}?media=1")
        assert "/media/" not in page.text and "shown only to child_safety" in page.text
        for sha in (photo_sha, video_sha, "0" * 64, "x"):
            for tail in MEDIA_ROUTES:
                answer = client.get(f"/ui/cases/{case_id}/media/{sha}{tail}")
                assert answer.status_code == 403, (sha, tail)
                assert b"\xff\xd8" not in answer.content and b"ftyp" not in answer.content
        token = core.tokens.create(Scope.REVIEWER, "reviewer")[1]
        bearer = {"Authorization": f"Bearer {token}"}
        for path in (
            f"/api/v1/cases/{case_id}/media",
            f"/api/v1/cases/{case_id}/media/{photo_sha}",
            f"/api/v1/cases/{case_id}/media/{video_sha}",
            f"/api/v1/cases/{case_id}/media/{video_sha}/frames/0",
            f"/api/v1/cases/{case_id}/export?media=true",
        ):
            assert client.get(path, headers=bearer).status_code == 403, path
        assert (
            client.post(
                f"/ui/cases/{case_id}/export", data={"csrf": csrf_of(page.text)}
            ).status_code
            == 403
        )
    assert not [e for e in core.audit.list() if e.action == "media.view"]


def test_the_api_serves_media_to_child_safety(media_case: tuple[Lykta, int, str, str]) -> None:
    from lykta.api.main import create_app

    core, case_id, photo_sha, video_sha = media_case
    token = core.tokens.create(Scope.CHILD_SAFETY, "cs")[1]
    bearer = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(core, follow_changes=False)) as client:
        listed = client.get(f"/api/v1/cases/{case_id}/media", headers=bearer).json()
        assert {(i["sha256"], i["kind"]) for i in listed["items"]} == {
            (photo_sha, "photo"), (video_sha, "video"),
        }  # fmt: skip
        assert listed["decidable_without_media"] is True and listed["not_kept"] == 0
        photo = client.get(f"/api/v1/cases/{case_id}/media/{photo_sha}", headers=bearer)
        assert photo.headers["content-type"] == "image/jpeg"
        assert photo.headers["cache-control"] == "no-store, private"
        frame = client.get(f"/api/v1/cases/{case_id}/media/{video_sha}/frames/7", headers=bearer)
        assert frame.status_code == 200 and frame.content[:3] == b"\xff\xd8\xff"
        missing = client.get(f"/api/v1/cases/{case_id}/media/{'1' * 64}", headers=bearer)
        assert missing.status_code == 404
    assert [e.actor for e in core.audit.list() if e.action == "media.view"] == [
        f"token:{core.tokens.list()[-1].id}:cs"
    ] * 2


def test_preferences_persist_over_the_defaults_and_a_break_resets_the_count(
    media_case: tuple[Lykta, int, str, str],
) -> None:
    from lykta.api.main import create_app

    core, case_id, photo_sha, _ = media_case
    with TestClient(create_app(core, follow_changes=False)) as client:
        assert sign_in(client, "ada") == 303  # admin may view media too
        form = client.get("/ui/preferences")
        token = csrf_of(form.text)
        assert client.post("/ui/preferences", data={"blur": 2, "reveal": "hover",
                           "break_after": 2, "csrf": "nope"}).status_code == 403  # fmt: skip
        bad = client.post("/ui/preferences", data={"blur": 3, "reveal": "sideways",
                          "break_after": 2, "csrf": token})  # fmt: skip
        assert bad.status_code == 422 and "reveal must be one of click, hover" in bad.text
        saved = client.post("/ui/preferences", data={"blur": 3, "reveal": "hover",
                            "break_after": 2, "csrf": token}, follow_redirects=False)  # fmt: skip
        assert saved.status_code == 303
        page = client.get("/ui").text
        assert 'class="blur-3 reveal-hover"' in page  # greyscale unticked: off
        assert "break-reminder" not in page
        for _ in range(2):
            assert client.get(f"/ui/cases/{case_id}/media/{photo_sha}").status_code == 200
        page = client.get("/ui").text
        assert 'id="break-reminder"' in page and "viewed 2 media items" in page
        client.post("/ui/break", data={"csrf": token})
        assert "break-reminder" not in client.get("/ui").text
        client.post("/ui/preferences", data={"blur": 0, "reveal": "click", "break_after": 0,
                    "reset": "true", "csrf": token})  # fmt: skip
        assert 'class="blur-6 reveal-click grey"' in client.get("/ui").text
    actions = [e.action for e in core.audit.list()]
    assert actions.count("user.preferences") == 2 and "console.break" in actions


def test_report_and_export_buttons_use_the_reporting_core(
    media_case: tuple[Lykta, int, str, str],
) -> None:
    from lykta.api.main import create_app

    core, case_id, photo_sha, video_sha = media_case
    with TestClient(create_app(core, follow_changes=False)) as client:
        assert sign_in(client, "cas") == 303
        page = client.get(f"/ui/cases/{case_id}")
        token = csrf_of(page.text)
        assert 'id="export"' in page.text and 'id="report"' not in page.text  # not confirmed
        client.post(f"/ui/cases/{case_id}/decision", data={"decision": "confirmed", "csrf": token})
        page = client.get(f"/ui/cases/{case_id}")
        assert 'id="report"' in page.text and 'id="no-reports"' in page.text
        assert client.post(f"/ui/cases/{case_id}/report", data={"csrf": "x"}).status_code == 403
        refused = client.post(f"/ui/cases/{case_id}/report", data={"csrf": token})
        assert refused.status_code == 503
        assert "LYKTA_CYBERTIPLINE_USERNAME and LYKTA_CYBERTIPLINE_PASSWORD" in refused.text
        assert client.post(f"/ui/cases/{case_id}/export", data={"csrf": "x"}).status_code == 403
        export = client.post(f"/ui/cases/{case_id}/export", data={"csrf": token, "media": "true"})
        assert export.headers["content-type"] == "application/zip"
        assert export.headers["content-disposition"] == f'attachment; filename="case-{case_id}.zip"'
        names = zipfile.ZipFile(io.BytesIO(export.content)).namelist()
        assert {"case.json", "alerts.csv", f"media/{photo_sha}", f"media/{video_sha}"} <= set(names)
    exports = [e for e in core.audit.list() if e.action == "case.export"]
    assert [(e.actor, e.detail["media"]) for e in exports] == [("user:cas", True)]
