"""CyberTipline reports end to end against a local server implementing the documented
endpoints and responses: the XML in the schema's order, retries, a crash at every step
resumed without a second report, reports lost after 24 h, retraction, and who may report."""

from __future__ import annotations

import hashlib
import io
import os
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import update

from lykta.alerts import MatchSource, NewAlert
from lykta.app import Lykta
from lykta.cases import NewContext
from lykta.errors import Conflict, Forbidden
from lykta.evidence.store import CHUNK_BYTES, BlobStore
from lykta.reports import CyberTiplineClient, CyberTiplineError
from lykta.reports.xml import out_of_order
from lykta.settings import Settings
from lykta.store.models import CyberTipReport
from tests.conftest import TEST_EVIDENCE_KEY, make_settings
from tests.reports.cybertip_server import PASSWORD, USER, State, cybertipline
from tests.videogen import write_video

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


class Crash(Exception):
    pass


@pytest.fixture
def server() -> Iterator[tuple[str, State]]:
    with cybertipline() as running:
        yield running


@pytest.fixture
def review(settings: Settings) -> Iterator[Lykta]:
    core = Lykta.open(
        make_settings(
            settings.home, database_url=settings.database_url, evidence_keep_uploads=True,
            cybertipline_reporter_name="Tess Safety", cybertipline_reporter_email="t@example.org",
            auto_report_banks="auto",
        )
    )  # fmt: skip
    core.banks.create("known")
    core.banks.create("auto")
    yield core
    core.close()


def client(url: str) -> CyberTiplineClient:
    return CyberTiplineClient(url, USER, PASSWORD, pause=lambda _: None)


def stream_alert(subject: str, bank: str = "known", distance: int = 5) -> NewAlert:
    return NewAlert(
        source_kind="stream", source_id="live-7", source_uri="", offset_s=12.0, bank=bank,
        content_id=1, external_id="item-1", labels=("A1",), kind="pdq", distance=distance,
        transform="original", subject=subject, query_hash=PDQ,
    )  # fmt: skip


def confirmed_case(core: Lykta, photo: bytes, subject: str = "user:42") -> int:
    core.add_media("known", photo, external_id="benign-1")
    core.lookup_photo(photo, source=MatchSource(subject=subject))
    core.alerts.record(stream_alert(subject))
    for kind, value, event in [
        ("screen_name", "benign_name", None), ("email", "someone@example.org", None),
        ("ip_capture", "192.0.2.7", "login"),
    ]:  # fmt: skip
        core.cases.add_context(
            NewContext(kind, value, event, datetime(2026, 1, 2, tzinfo=UTC)),
            actor="platform", subject=subject,
        )  # fmt: skip
    case_id = core.cases.queue(subject=subject)[0].id
    core.cases.decide(case_id, "confirmed", actor="user:rita")
    return case_id


def test_a_confirmed_case_is_reported_end_to_end(
    review: Lykta, photo: bytes, server: tuple[str, State]
) -> None:
    url, state = server
    case_id = confirmed_case(review, photo)
    info = review.reports.send(case_id, client(url), actor="user:cara", may_report=True)
    assert info.step == "finished" and info.ncmec_report_id in state.reports
    assert state.calls == ["/submit", "/upload", "/fileinfo", "/finish"]
    sent = state.reports[info.ncmec_report_id]
    assert sent.state == "finished" and list(sent.files.values()) == [photo]
    report = ET.fromstring(sent.xml)
    assert out_of_order(report) is None
    assert [child.tag for child in report] == [
        "incidentSummary", "reporter", "personOrUserReported", "additionalInfo",
    ]  # fmt: skip
    assert "live-7" in (report.findtext("incidentSummary/escalateToHighPriority") or "")
    reported = report.find("personOrUserReported")
    assert reported is not None
    assert reported.findtext("espIdentifier") == "user:42"
    assert reported.findtext("screenName") == "benign_name"
    assert reported.findtext("personOrUserReportedPerson/email") == "someone@example.org"
    assert reported.findtext("ipCaptureEvent/ipAddress") == "192.0.2.7"
    assert reported.findtext("ipCaptureEvent/eventName") == "Login"
    details = ET.fromstring(next(iter(sent.file_details.values())))
    assert details.findtext("fileViewedByEsp") == "false"
    assert details.findtext("publiclyAvailable") == "false"
    assert details.find("fileAnnotations/liveStreaming") is not None
    assert details.findtext("industryClassification") == "A1"
    hashes = {h.get("hashType"): h.text for h in details.findall("originalFileHash")}
    assert set(hashes) == {"SHA256", "MD5"}
    # The exact XML sent is kept with the evidence, and the case is now reported.
    stored = {
        review.evidence.read(case_id, item.sha256, viewer="t")
        for item in review.evidence.info(case_id).items
        if item.kind == "report_xml"
    }
    assert stored == {sent.xml, *sent.file_details.values()}
    assert review.cases.get(case_id, viewer="t").case.state == "reported"
    actions = {entry.action for entry in review.audit.list(target=f"case:{case_id}")}
    assert {"report.create", "report.submit", "report.finish", "case.decision"} <= actions
    assert review.audit.verify().ok


def _file_details(state: State, report_id: str | None) -> dict[str, ET.Element]:
    """The fileDetails the server got for each file of the report, by the file's SHA-256."""
    sent = state.reports[report_id or ""]
    by_file = {fid: hashlib.sha256(data).hexdigest() for fid, data in sent.files.items()}
    return {
        by_file[fid]: ET.fromstring(xml) for fid, xml in sent.file_details.items()
    }  # fmt: skip


def test_a_file_is_viewed_by_the_esp_once_anyone_was_shown_it_whole(
    review: Lykta, photo: bytes, server: tuple[str, State], tmp_path: Path
) -> None:
    url, state = server
    video = write_video(tmp_path / "clip.mp4", [7, 8], scene_seconds=2).read_bytes()
    review.add_media("known", video, external_id="benign-v")
    review.lookup_video(review.hash_video(io.BytesIO(video)), source=MatchSource("user:42"))
    review.evidence.keep_upload(video)
    case_id = confirmed_case(review, photo)
    photo_sha, video_sha = hashlib.sha256(photo).hexdigest(), hashlib.sha256(video).hexdigest()
    # Someone other than the reporter opens the photo, and one frame of the video.
    review.media.photo(case_id, photo_sha, viewer="user:vic", may_view_media=True)
    review.media.frame(case_id, video_sha, 0, viewer="user:vic", may_view_media=True)
    info = review.reports.send(case_id, client(url), actor="user:cara", may_report=True)
    details = _file_details(state, info.ncmec_report_id)
    assert set(details) == {photo_sha, video_sha}
    assert all(out_of_order(element) is None for element in details.values())
    assert details[photo_sha].findtext("fileViewedByEsp") == "true"
    assert details[photo_sha].find("additionalInfo") is None
    # A storyboard frame is not the entire contents NCMEC asks about: false, and said.
    assert details[video_sha].findtext("fileViewedByEsp") == "false"
    assert "viewed 1 key frame(s)" in (details[video_sha].findtext("additionalInfo") or "")


def test_a_view_of_the_same_file_in_another_case_counts(
    review: Lykta, photo: bytes, server: tuple[str, State]
) -> None:
    url, state = server
    other = confirmed_case(review, photo, subject="user:7")
    photo_sha = hashlib.sha256(photo).hexdigest()
    # The same bytes, seen in another subject's case: the service viewed this file.
    review.media.photo(other, photo_sha, viewer="user:vic", may_view_media=True)
    case_id = confirmed_case(review, photo, subject="user:8")
    info = review.reports.send(case_id, client(url), actor="user:cara", may_report=True)
    assert _file_details(state, info.ncmec_report_id)[photo_sha].findtext("fileViewedByEsp") == (
        "true"
    )
    views = review.audit.media_views([photo_sha, "0" * 64])
    assert views == {photo_sha: {"photo"}}


@pytest.mark.parametrize("crash_at", ["submitting", "submitted", "upload:0", "fileinfo:0"])
def test_a_crash_at_any_step_resumes_the_same_report(
    review: Lykta, photo: bytes, server: tuple[str, State], crash_at: str
) -> None:
    url, state = server
    case_id = confirmed_case(review, photo)

    def crash(step: str) -> None:
        if step == crash_at:
            raise Crash(step)

    with pytest.raises(Crash):
        review.reports.send(case_id, client(url), actor="user:cara", may_report=True,
                            checkpoint=crash)  # fmt: skip
    assert review.reports.status(case_id)[0].step in {"submitting", "submitted"}
    info = review.reports.send(case_id, client(url), actor="user:cara", may_report=True)
    assert info.step == "finished"
    assert len(state.reports) == 1  # never a second report
    sent = state.reports[info.ncmec_report_id or ""]
    assert sent.state == "finished" and len(sent.files) == 1 and len(sent.file_details) == 1
    assert len(review.reports.status(case_id)) == 1


MINIMAL_REPORT = (
    b"<report><incidentSummary><incidentType>x</incidentType></incidentSummary></report>"
)
RETRYABLE = ["drop", "stall", "code1000", "http429", "http500", "http502", "http503", "http504"]


@pytest.mark.parametrize("failure", RETRYABLE)
def test_retryable_failures_are_tried_again(server: tuple[str, State], failure: str) -> None:
    url, state = server
    pauses: list[float] = []
    # A short read timeout for the stalled call; the server holds it until released.
    tipline = CyberTiplineClient(url, USER, PASSWORD, pause=pauses.append, timeout=0.5)
    state.fail_next = [failure]
    assert tipline.submit(MINIMAL_REPORT) in state.reports
    assert state.calls == ["/submit", "/submit"] and pauses == [1.0]


def test_an_evidence_file_is_uploaded_streamed_and_again_from_its_start_on_a_retry(
    server: tuple[str, State], tmp_path: Path
) -> None:
    url, state = server
    store = BlobStore(tmp_path / "evidence", TEST_EVIDENCE_KEY)
    data = os.urandom(2 * CHUNK_BYTES + 12_345)  # three sealed chunks
    sha256 = store.put(data)
    tipline = client(url)
    report_id = tipline.submit(MINIMAL_REPORT)
    state.fail_next = ["drop"]  # the first try is cut off mid-way
    with store.open(sha256) as blob:
        tipline.upload(report_id, "clip.mp4", blob)
    # The server reads the body by its Content-Length: a chunked body would arrive empty.
    assert list(state.reports[report_id].files.values()) == [data]
    assert state.calls == ["/submit", "/upload", "/upload"]


def test_retryable_failures_give_up_after_four_tries(server: tuple[str, State]) -> None:
    url, state = server
    pauses: list[float] = []
    tipline = CyberTiplineClient(url, USER, PASSWORD, pause=pauses.append)
    state.fail_next = ["drop"] * 4
    with pytest.raises(CyberTiplineError, match=r"RemoteProtocolError \(tried 4 times\)"):
        tipline.submit(MINIMAL_REPORT)
    assert len(state.calls) == 4 and pauses == [1.0, 2.0, 4.0] and state.reports == {}
    state.fail_next = ["code1000"] * 4
    with pytest.raises(CyberTiplineError, match=r"server error on /submit.*tried 4 times"):
        tipline.submit(MINIMAL_REPORT)


def test_a_cybertipline_that_cannot_be_reached_is_tried_four_times() -> None:
    with socket.socket() as probe:  # a port nothing listens on once it is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pauses: list[float] = []
    tipline = CyberTiplineClient(f"http://127.0.0.1:{port}", USER, PASSWORD, pause=pauses.append)
    with pytest.raises(CyberTiplineError, match=r"cannot reach.*ConnectError \(tried 4 times\)"):
        tipline.status()
    assert len(pauses) == 3


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        ("http400:code4100", "refused /submit: code 4100, failure 4100"),
        ("code2000", "refused /submit: code 2000"),
        ("http403:code1100", "refused /submit: code 1100"),
        ("http404", "answered HTTP 404 to /submit with no reportResponse"),
        ("http501", "answered HTTP 501 to /submit with no reportResponse"),
    ],
)  # fmt: skip
def test_other_failures_are_final_at_once(
    server: tuple[str, State], failure: str, message: str
) -> None:
    url, state = server
    pauses: list[float] = []
    tipline = CyberTiplineClient(url, USER, PASSWORD, pause=pauses.append)
    state.fail_next = [failure, failure]
    with pytest.raises(CyberTiplineError, match=re.escape(message)):
        tipline.submit(MINIMAL_REPORT)
    assert state.calls == ["/submit"] and pauses == []


@pytest.mark.parametrize("failures", [["http400:code4100"], ["drop"] * 4])
def test_a_failed_step_fails_the_send_says_why_and_resumes(
    review: Lykta, photo: bytes, server: tuple[str, State], failures: list[str]
) -> None:
    url, state = server
    case_id = confirmed_case(review, photo)
    state.fail_next = ["", *failures]  # the submit goes through, the upload fails
    with pytest.raises(CyberTiplineError) as raised:
        review.reports.send(case_id, client(url), actor="user:cara", may_report=True)
    assert "/upload" in raised.value.message
    (report,) = review.reports.status(case_id)
    assert report.step == "submitted" and report.error == raised.value.message
    errors = review.audit.list(action="report.error", target=f"case:{case_id}")
    assert [entry.detail["error"] for entry in errors] == [raised.value.message]
    assert state.calls == ["/submit"] + ["/upload"] * len(failures)
    info = review.reports.send(case_id, client(url), actor="user:cara", may_report=True)
    assert info.step == "finished" and info.error == "" and info.id == report.id
    assert len(state.reports) == 1 and review.audit.verify().ok


def test_out_of_order_xml_is_refused(server: tuple[str, State]) -> None:
    url, _ = server
    wrong = (
        b"<report><reporter><reportingPerson><email>a@b.c</email></reportingPerson></reporter>"
        b"<incidentSummary><incidentType>x</incidentType></incidentSummary></report>"
    )
    with pytest.raises(CyberTiplineError, match=r"code 4100.*incidentSummary out of order"):
        client(url).submit(wrong)
    with pytest.raises(CyberTiplineError, match="credentials"):
        CyberTiplineClient(url, USER, "wrong", pause=lambda _: None).status()


def test_nothing_is_reported_without_a_child_safety_confirmation(
    review: Lykta, photo: bytes, server: tuple[str, State]
) -> None:
    url, state = server
    open_case = review.alerts.record(stream_alert("user:1")).case_id
    assert open_case is not None
    with pytest.raises(Conflict, match="only a case a child_safety user confirmed"):
        review.reports.send(open_case, client(url), actor="user:cara", may_report=True)
    case_id = confirmed_case(review, photo, "user:2")
    with pytest.raises(Forbidden, match="child_safety"):
        review.reports.send(case_id, client(url), actor="user:rita", may_report=False)
    assert state.calls == []
    # Exact matches on a bank named in LYKTA_AUTO_REPORT_BANKS are reported undecided.
    auto = review.alerts.record(stream_alert("user:3", bank="auto", distance=0)).case_id
    assert auto is not None
    info = review.reports.send(auto, client(url), actor="lykta:auto")
    assert info.step == "finished"


def test_an_unfinished_report_older_than_a_day_is_lost(
    review: Lykta, photo: bytes, server: tuple[str, State]
) -> None:
    url, state = server
    case_id = confirmed_case(review, photo)

    def crash(step: str) -> None:
        if step == "submitted":
            raise Crash(step)

    with pytest.raises(Crash):
        review.reports.send(case_id, client(url), actor="user:cara", may_report=True,
                            checkpoint=crash)  # fmt: skip
    with review.sessions() as session, session.begin():
        session.execute(
            update(CyberTipReport).values(submitted_at=datetime.now(UTC) - timedelta(hours=25))
        )
    assert review.reports.status(case_id)[0].lost
    with pytest.raises(Conflict, match="lost"):
        review.reports.send(case_id, client(url), actor="user:cara", may_report=True)
    info = review.reports.send(case_id, client(url), actor="user:cara", may_report=True)
    assert info.step == "finished" and len(state.reports) == 2
    assert [r.step for r in review.reports.status(case_id)] == ["finished", "lost"]


def test_an_unfinished_report_can_be_retracted(
    review: Lykta, photo: bytes, server: tuple[str, State]
) -> None:
    url, state = server
    case_id = confirmed_case(review, photo)

    def crash(step: str) -> None:
        if step == "upload:0":
            raise Crash(step)

    with pytest.raises(Crash):
        review.reports.send(case_id, client(url), actor="user:cara", may_report=True,
                            checkpoint=crash)  # fmt: skip
    info = review.reports.retract(case_id, client(url), actor="user:cara")
    assert info.step == "retracted"
    assert state.reports[info.ncmec_report_id or ""].state == "retracted"


def test_an_export_holds_json_and_csv_and_media_only_when_authorised(
    review: Lykta, photo: bytes
) -> None:
    import csv
    import io
    import json
    import zipfile

    case_id = confirmed_case(review, photo)
    with pytest.raises(Forbidden, match="child_safety"):
        review.reports.export(case_id, viewer="user:rita", media=True, may_view_media=False)
    plain = zipfile.ZipFile(io.BytesIO(review.reports.export(case_id, viewer="user:rita")))
    assert sorted(plain.namelist()) == ["alerts.csv", "case.json"]
    record = json.loads(plain.read("case.json"))
    assert record["case"]["subject"] == "user:42"
    assert record["classification"] == {"state": "confirmed", "labels": ["A1"]}
    rows = list(csv.DictReader(io.StringIO(plain.read("alerts.csv").decode())))
    assert {row["source_kind"] for row in rows} == {"photo", "stream"}
    assert all(row["subject"] == "user:42" and row["created_at"] for row in rows)
    assert PDQ in {row["query_hash"] for row in rows}
    full = zipfile.ZipFile(
        io.BytesIO(review.reports.export(case_id, viewer="user:cara", media=True,
                                         may_view_media=True))
    )  # fmt: skip
    media = [name for name in full.namelist() if name.startswith("media/")]
    assert [full.read(name) for name in media] == [photo]
    exports = review.audit.list(action="case.export")
    assert [(e.actor, e.detail["media"]) for e in exports] == [
        ("user:cara", True), ("user:rita", False),
    ]  # fmt: skip
