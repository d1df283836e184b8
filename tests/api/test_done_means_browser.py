"""Issue 7's "done means", end to end in a real browser against `lykta serve`: a reviewer
signs in and works a queue of cases raised from a photo match, a video match and a live
stream match, with media hidden by default, and confirms the photo's case; a
`child_safety` user sees its media blurred until revealed and sends the CyberTipline
report to the local test server; `lykta serve` is killed while the report's file is being
uploaded, and after a restart the report resumes, with no second report; `lykta audit
verify` then passes over a log holding the sign-ins, the view, the decision and the report.

Skipped where Chromium or Playwright is missing, failed instead under CI (.ci/run installs
both).
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from lykta.alerts import MatchSource
from lykta.app import Lykta
from lykta.auth.users import Role
from lykta.streams import StreamSpec, StreamState
from tests.api.console_browser import PASSWORD, all_loaded, browser_tab, css_filter, serving
from tests.api.console_browser import sign_in as sign_in_at
from tests.conftest import make_photo, make_settings
from tests.reports.cybertip_server import PASSWORD as CYBERTIPLINE_PASSWORD
from tests.reports.cybertip_server import USER, State, cybertipline
from tests.streams.conftest import CLIP_A, wait_until
from tests.streams.media import video_item, write_clip
from tests.videogen import write_video

HIDDEN = "grayscale(1) blur(18px)"


@dataclass(frozen=True)
class Queue:
    home: Path
    cases: dict[str, int]  # by source kind: photo, video, stream
    photo_sha: str


@pytest.fixture
def queue(tmp_path: Path) -> Queue:
    """A home whose queue holds three cases, each raised by the core's own path: a photo
    look-up, a video look-up (both with the upload kept) and a live stream it watched."""
    home = tmp_path / "home"
    core = Lykta.open(make_settings(home, evidence_keep_uploads=True))
    try:
        core.banks.create("known")
        photo = make_photo(31)
        video = write_video(tmp_path / "clip.mp4", [7, 8], scene_seconds=2).read_bytes()
        write_clip(tmp_path / "banked.mp4", CLIP_A)
        core.add_media("known", photo, external_id="photo-1")
        core.add_media("known", video, external_id="video-1")
        core.banks.add_content("known", [video_item(tmp_path / "banked.mp4", "clip-a")])
        core.lookup_photo(photo, source=MatchSource("acct-photo"))
        core.lookup_video(core.hash_video(io.BytesIO(video)), source=MatchSource("acct-video"))
        core.evidence.keep_upload(video)
        write_clip(tmp_path / "live.mp4", [(1, 1.0), *CLIP_A])
        core.local_streams.add(StreamSpec(str(tmp_path / "live.mp4"), id="live-1",
                                          subject="acct-live"))  # fmt: skip
        wait_until(lambda: core.local_streams.get("live-1").state == StreamState.ENDED)
        for name, role in (("rita", Role.REVIEWER), ("cara", Role.CHILD_SAFETY)):
            core.users.create(name, role, PASSWORD, actor="test")
        cases = {case.top_source_kind: case.id for case in core.cases.queue()}
    finally:
        core.close()
    assert set(cases) == {"photo", "video", "stream"}
    return Queue(home, cases, hashlib.sha256(photo).hexdigest())


def upload_stalled(tab, state: State) -> None:  # type: ignore[no-untyped-def]
    """Wait for the CyberTipline to hold the upload, while the tab's requests go on: its
    route handler runs only inside Playwright's calls, so the wait is made of them."""
    deadline = time.monotonic() + 60
    while not state.received.is_set():
        assert time.monotonic() < deadline, f"the upload never came: {state.calls}"
        tab.wait_for_timeout(100)


@pytest.fixture
def tipline() -> Iterator[tuple[str, State]]:
    with cybertipline() as running:
        yield running


def test_a_case_is_reviewed_confirmed_and_reported_through_a_crash(  # type: ignore[no-untyped-def]
    browser, queue: Queue, tipline: tuple[str, State]
) -> None:
    url, state = tipline
    env = {
        "LYKTA_CYBERTIPLINE_URL": url,
        "LYKTA_CYBERTIPLINE_USERNAME": USER,
        "LYKTA_CYBERTIPLINE_PASSWORD": CYBERTIPLINE_PASSWORD,
    }
    case_id = queue.cases["photo"]
    with serving(queue.home, **env) as served:
        for tab, blocked, errors in browser_tab(browser):
            # The reviewer's queue: live stream first, then video, then photo.
            sign_in_at(tab, served.url, "rita", PASSWORD)
            tab.wait_for_url(f"{served.url}/ui")
            links = tab.locator("table.queue tbody a").all_inner_texts()
            assert links == [f"#{queue.cases[kind]}" for kind in ("stream", "video", "photo")]
            tab.click(f"a[href='/ui/cases/{case_id}']")
            assert tab.locator(".media-items img, video").count() == 0  # metadata first
            tab.goto(f"{served.url}/ui/cases/{case_id}?media=1")
            assert "shown only to child_safety users" in tab.locator("#media").inner_text()
            assert tab.locator("img, video").count() == 0
            tab.keyboard.press("c")
            tab.keyboard.type("near-exact match on a verified bank")
            with tab.expect_navigation():
                tab.keyboard.press("Control+Enter")
            assert tab.locator("h1 .state").inner_text() == "confirmed"
            tab.goto(f"{served.url}/ui?state=confirmed")
            assert tab.locator("table.queue tbody a").all_inner_texts() == [f"#{case_id}"]
            assert blocked == [] and errors == []

        for tab, blocked, errors in browser_tab(browser):
            # The child_safety user: media on request only, blurred and grey until clicked.
            sign_in_at(tab, served.url, "cara", PASSWORD)
            tab.wait_for_url(f"{served.url}/ui")
            tab.goto(f"{served.url}/ui/cases/{case_id}")
            assert tab.locator(".media-items img").count() == 0
            tab.click("#show-media")
            photo = f"img[src$='/media/{queue.photo_sha}']"
            all_loaded(tab, photo)
            assert css_filter(tab, photo, HIDDEN) == HIDDEN
            tab.click(f".media:has({photo})")
            assert css_filter(tab, photo, "none") == "none"

            # The report: submitted, then `lykta serve` dies while the file uploads.
            state.fail_next = ["", "stall"]
            tab.click("#report button", no_wait_after=True)
            upload_stalled(tab, state)
            served.crash()
            state.release.set()
            assert errors == [] and blocked == []

    with serving(queue.home, **env) as served:
        for tab, blocked, _ in browser_tab(browser):
            sign_in_at(tab, served.url, "cara", PASSWORD)
            tab.wait_for_url(f"{served.url}/ui")
            tab.goto(f"{served.url}/ui/cases/{case_id}")
            assert "submitted" in tab.locator("table.reports").inner_text()
            with tab.expect_navigation():
                tab.click("#report button")
            assert tab.locator("h1 .state").inner_text() == "reported"
            assert "finished" in tab.locator("table.reports").inner_text()
            assert tab.locator("table.reports tbody tr").count() == 1
            assert blocked == []

    # One report at the CyberTipline, finished, its file sent once more after the crash.
    assert state.calls == ["/submit", "/upload", "/upload", "/fileinfo", "/finish"]
    [report] = state.reports.values()
    assert report.state == "finished" and len(report.files) == 1
    [details] = report.file_details.values()
    assert ET.fromstring(details).findtext("fileViewedByEsp") == "true"  # cara saw it whole

    verified = subprocess.run(
        [sys.executable, "-m", "lykta", "audit", "verify"],
        env={**os.environ, "LYKTA_HOME": str(queue.home), "LYKTA_DATABASE_URL": ""},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stderr
    with Lykta.open(make_settings(queue.home), sync=False) as core:
        entries = core.audit.list(limit=1000)
    done = {(entry.actor, entry.action) for entry in entries}
    assert {
        ("user:rita", "login.success"), ("user:cara", "login.success"),
        ("user:rita", "case.decision"), ("user:cara", "media.view"),
        ("user:cara", "report.create"), ("user:cara", "report.submit"),
        ("user:cara", "report.finish"), ("user:cara", "case.decision"),
    } <= done  # fmt: skip
    assert [e.target for e in entries if e.action == "report.create"] == [f"case:{case_id}"]
