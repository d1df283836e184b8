"""The review console in a real browser (Debian's Chromium, headless, driven by
Playwright) against `lykta serve`: sign-in and lock-out, a case decided from the keyboard,
media blurred and grey until revealed, video storyboards that never autoplay, preferences
that persist, the break reminder, the report and export buttons, and that a `reviewer`
loads no media by any URL; with no request to another host and no script or style the
page's policy blocks.

Skipped where Chromium or Playwright is missing, failed instead under CI (.ci/run installs
both).
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from lykta.alerts import MatchSource, NewAlert
from lykta.app import Lykta
from lykta.auth.tokens import Scope
from lykta.auth.users import Role
from tests.api.console_browser import (
    PASSWORD,
    all_loaded,
    browser_tab,
    css_filter,
    serving,
    sign_in,
)
from tests.conftest import make_photo, make_settings
from tests.videogen import write_video


@dataclass
class Server:
    url: str
    case_id: int


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("console") / "home"
    core = Lykta.open(make_settings(home))
    try:
        core.users.create("rita", Role.REVIEWER, PASSWORD, actor="test")
        core.users.create("lena", Role.REVIEWER, PASSWORD, actor="test")
        recorded = core.alerts.record(
            NewAlert(
                "stream",
                "live-7",
                "",
                12.0,
                "known",
                1,
                "clip-a",
                ("A1",),
                "pdq",
                4,
                "original",
                subject="acct-7",
            )
        )
        assert recorded.case_id is not None
        case_id = recorded.case_id
    finally:
        core.close()
    with serving(home) as served:
        yield Server(served.url, case_id)


@pytest.fixture
def page(browser: object) -> Iterator[tuple[object, list[str], list[str]]]:
    """A tab that may reach nothing but the local server (see `browser_tab`)."""
    yield from browser_tab(browser)


def test_repeated_wrong_passwords_lock_the_account(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    tab, blocked, _ = page
    for _ in range(3):
        sign_in(tab, server.url, "lena", "not her password")
        assert "wrong name or password" in tab.locator(".message").inner_text()
    sign_in(tab, server.url, "lena", PASSWORD)
    assert "too many failed logins" in tab.locator(".message").inner_text()
    assert tab.url.endswith("/ui/login")
    assert blocked == []


def test_a_case_is_decided_from_the_keyboard(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    tab, blocked, errors = page
    sign_in(tab, server.url, "rita", PASSWORD)
    tab.wait_for_url(f"{server.url}/ui")
    tab.click(f"a[href='/ui/cases/{server.case_id}']")
    assert "live-7" in tab.locator("table.alerts").inner_text()
    assert tab.locator("input[value=reported]").count() == 0  # a reviewer does not report
    tab.keyboard.press("c")
    assert tab.locator("input[value=confirmed]").is_checked()
    tab.keyboard.type("exact match on a verified bank")
    with tab.expect_navigation():
        tab.keyboard.press("Control+Enter")
    history = tab.locator("ol.history").inner_text()
    assert "user:rita decision new → confirmed" in history
    assert "exact match on a verified bank" in history
    assert tab.locator("h1 .state").inner_text() == "confirmed"
    assert blocked == [] and errors == []


@dataclass
class MediaServer:
    url: str
    case_id: int  # a photo and a video kept
    other_case_id: int  # for the report and export buttons
    photo_sha: str
    video_sha: str
    reviewer_token: str


@pytest.fixture(scope="module")
def media_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaServer]:
    folder = tmp_path_factory.mktemp("console-media")
    home = folder / "home"
    core = Lykta.open(make_settings(home, evidence_keep_uploads=True))
    try:
        core.banks.create("known")
        photo = make_photo(21)
        video = write_video(folder / "clip.mp4", [7, 8], scene_seconds=2).read_bytes()
        core.add_media("known", photo, external_id="p1")
        core.add_media("known", video, external_id="v1")
        core.lookup_photo(photo, source=MatchSource("acct-m"))
        hashes = core.hash_video(io.BytesIO(video))
        core.lookup_video(hashes, source=MatchSource("acct-m"))
        core.evidence.keep_upload(video)
        core.lookup_photo(make_photo(21), source=MatchSource("acct-r"))
        for name in ("cas", "cara", "cleo"):
            core.users.create(name, Role.CHILD_SAFETY, PASSWORD, actor="test")
        core.users.create("rolf", Role.REVIEWER, PASSWORD, actor="test")
        token = core.tokens.create(Scope.REVIEWER, "reviewer")[1]
        ids = {case.subject: case.id for case in core.cases.queue()}
    finally:
        core.close()
    with serving(home) as served:
        yield MediaServer(
            served.url, ids["acct-m"], ids["acct-r"], hashlib.sha256(photo).hexdigest(),
            hashlib.sha256(video).hexdigest(), token,
        )  # fmt: skip


def test_media_is_blurred_and_grey_until_clicked_and_videos_are_a_storyboard(  # type: ignore[no-untyped-def]
    page, media_server: MediaServer
) -> None:
    tab, blocked, errors = page
    sign_in(tab, media_server.url, "cas", PASSWORD)
    tab.goto(f"{media_server.url}/ui/cases/{media_server.case_id}")
    assert tab.locator("#decidable").is_visible()
    assert tab.locator(".media-items img").count() == 0  # nothing until asked
    tab.click("#show-media")
    photo = f"img[src$='/media/{media_server.photo_sha}']"
    all_loaded(tab, photo)
    assert css_filter(tab, photo, "grayscale(1) blur(18px)") == "grayscale(1) blur(18px)"
    tab.click(f".media:has({photo})")
    assert css_filter(tab, photo, "none") == "none"
    tab.click(f".media:has({photo})")
    assert css_filter(tab, photo, "grayscale(1) blur(18px)") == "grayscale(1) blur(18px)"
    tab.focus(f".media:has({photo})")
    tab.keyboard.press("Enter")
    assert css_filter(tab, photo, "none") == "none"

    frames = "ol.storyboard img"
    all_loaded(tab, frames)
    assert tab.locator(frames).count() == 8
    times = tab.locator("ol.storyboard .at").all_inner_texts()
    assert len(set(times)) == 8 and times == sorted(times, key=lambda t: float(t.split()[0]))
    hidden = "grayscale(1) blur(18px)"
    assert css_filter(tab, frames, hidden) == hidden  # the first frame
    video = tab.locator("video")
    assert video.evaluate("v => [v.autoplay, v.muted, v.paused, v.preload]") == [
        False, True, True, "none",
    ]  # fmt: skip
    tab.wait_for_timeout(500)
    assert video.evaluate("v => v.paused && v.currentTime === 0")
    assert blocked == [] and errors == []


def test_preferences_persist_and_the_break_reminder_comes(  # type: ignore[no-untyped-def]
    browser, media_server: MediaServer
) -> None:
    for tab, _, errors in browser_tab(browser):
        sign_in(tab, media_server.url, "cara", PASSWORD)
        tab.goto(f"{media_server.url}/ui/preferences")
        tab.fill("input[name=blur]", "3")
        tab.uncheck("input[name=greyscale]")
        tab.check("input[name=reveal][value=hover]")
        tab.fill("input[name=break_after]", "5")
        with tab.expect_navigation():
            tab.click("#preferences button[type=submit]:not([name])")
        assert errors == []
    for tab, blocked, errors in browser_tab(browser):  # a new browser session: the choice stays
        sign_in(tab, media_server.url, "cara", PASSWORD)
        tab.goto(f"{media_server.url}/ui/preferences")
        assert tab.input_value("input[name=blur]") == "3"
        assert not tab.is_checked("input[name=greyscale]")
        assert tab.is_checked("input[name=reveal][value=hover]")
        assert tab.locator("#break-reminder").count() == 0
        tab.goto(f"{media_server.url}/ui/cases/{media_server.case_id}?media=1")
        photo = f"img[src$='/media/{media_server.photo_sha}']"
        all_loaded(tab, photo)
        all_loaded(tab, "ol.storyboard img")
        assert css_filter(tab, photo, "grayscale(0) blur(9px)") == "grayscale(0) blur(9px)"
        tab.hover(photo)
        assert css_filter(tab, photo, "none") == "none"
        tab.mouse.move(0, 0)
        assert css_filter(tab, photo, "grayscale(0) blur(9px)") == "grayscale(0) blur(9px)"
        tab.goto(f"{media_server.url}/ui")  # 1 photo + 8 frames viewed: past 5
        reminder = tab.locator("#break-reminder")
        assert reminder.is_visible() and "viewed 9 media items" in reminder.inner_text()
        with tab.expect_navigation():
            reminder.locator("button").click()
        assert tab.locator("#break-reminder").count() == 0
        assert tab.locator("#media-views").inner_text() == "0"
        assert blocked == [] and errors == []


def test_report_and_export_buttons(page, media_server: MediaServer) -> None:  # type: ignore[no-untyped-def]
    tab, blocked, _ = page
    sign_in(tab, media_server.url, "cleo", PASSWORD)
    tab.goto(f"{media_server.url}/ui/cases/{media_server.other_case_id}")
    assert tab.locator("#report").count() == 0  # not confirmed yet
    assert tab.locator("#no-reports").is_visible()
    tab.keyboard.press("c")
    with tab.expect_navigation():
        tab.keyboard.press("Control+Enter")
    with tab.expect_navigation():
        tab.click("#report button")
    message = tab.locator(".message").inner_text()
    assert "LYKTA_CYBERTIPLINE_USERNAME and LYKTA_CYBERTIPLINE_PASSWORD must be set" in message
    tab.check("#export input[name=media]")
    with tab.expect_download() as downloading:
        tab.click("#export button")
    download = downloading.value
    assert download.suggested_filename == f"case-{media_server.other_case_id}.zip"
    names = zipfile.ZipFile(download.path()).namelist()
    assert "case.json" in names and f"media/{media_server.photo_sha}" in names
    assert blocked == []


def test_a_reviewer_cannot_load_media_by_any_url(page, media_server: MediaServer) -> None:  # type: ignore[no-untyped-def]
    tab, blocked, _ = page
    sign_in(tab, media_server.url, "rolf", PASSWORD)
    tab.goto(f"{media_server.url}/ui/cases/{media_server.case_id}?media=1")
    assert "shown only to child_safety users" in tab.locator("#media").inner_text()
    assert tab.locator("img, video").count() == 0
    base = f"{media_server.url}/ui/cases/{media_server.case_id}/media"
    urls = [
        f"{base}/{sha}{tail}"
        for sha in (media_server.photo_sha, media_server.video_sha, "0" * 64)
        for tail in ("", "/video", "/frames/0", "/frames/7")
    ]
    for url in urls:
        answer = tab.goto(url)  # as the browser would load it: the session cookie goes along
        assert answer.status == 403, url
        assert answer.headers["content-type"].startswith("text/plain"), url
    api = f"{media_server.url}/api/v1/cases/{media_server.case_id}"
    bearer = {"Authorization": f"Bearer {media_server.reviewer_token}"}
    for path in (
        "/media", f"/media/{media_server.photo_sha}", f"/media/{media_server.video_sha}",
        f"/media/{media_server.video_sha}/frames/0", "/export?media=true", "/evidence",
    ):  # fmt: skip
        answer = tab.request.get(f"{api}{path}", headers=bearer)
        assert answer.status == 403, path
        assert answer.headers["content-type"] == "application/json", path
    for url in urls:  # and the session cookie is no key to the API (no `/video` there)
        answer = tab.request.get(url.replace("/ui/cases", "/api/v1/cases"))
        assert answer.status in (401, 404), url
        assert answer.headers["content-type"] == "application/json", url
    assert blocked == []
