"""Cases over alerts, on SQLite and PostgreSQL: grouping by subject, the queue's order, the
decision flow with its history, false positives into a negative bank and quarantine, and
context for the report."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lykta.alerts import MatchSource, NewAlert
from lykta.app import Lykta
from lykta.banks.items import ContentItem
from lykta.cases import CaseState, NewContext
from lykta.errors import Conflict, Forbidden, InvalidInput, NotFound
from lykta.settings import Settings
from tests.conftest import make_settings

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
# PDQ with 8 bits flipped: a near match.
NEAR = "07" + PDQ[2:]


def alert(
    subject: str | None, source_kind: str = "photo", *, distance: int = 0, bank: str = "known",
    content_id: int = 1, source_id: str = "upload-1",
) -> NewAlert:  # fmt: skip
    return NewAlert(
        source_kind=source_kind, source_id=source_id, source_uri="", offset_s=None,
        bank=bank, content_id=content_id, external_id=f"item-{content_id}", labels=(),
        kind="pdq", distance=distance, transform="original", subject=subject,
        query_hash=PDQ,
    )  # fmt: skip


@pytest.fixture
def review_settings(settings: Settings) -> Settings:
    return make_settings(
        settings.home, database_url=settings.database_url, quarantine_after=2,
        case_bank_order="urgent,known",
    )  # fmt: skip


@pytest.fixture
def review(review_settings: Settings) -> Iterator[Lykta]:
    core = Lykta.open(review_settings)
    core.banks.create("known")
    core.banks.create("urgent")
    core.banks.create("fp", negative=True)
    core.banks.add_content("known", [ContentItem.of_hash("pdq", PDQ, "item-1")])
    yield core
    core.close()


def test_alerts_about_one_subject_make_one_case(review: Lykta) -> None:
    first, second = review.alerts.record_many([alert("user:1"), alert("user:1", "video")])
    other = review.alerts.record(alert("user:2"))
    assert first.case_id == second.case_id != other.case_id
    # Without a subject, alerts of one source share a case.
    loose = [review.alerts.record(alert(None, "stream", source_id="s1")) for _ in range(2)]
    assert loose[0].case_id == loose[1].case_id not in {first.case_id, other.case_id}
    assert first.case_id is not None
    case = review.cases.get(first.case_id, viewer="t").case
    assert (case.subject, case.state, case.alert_count, case.top_source_kind) == (
        "user:1", CaseState.NEW, 2, "video",
    )  # fmt: skip


def test_concurrent_recorders_open_one_case_per_subject_and_lose_no_alert(review: Lykta) -> None:
    """Look-ups on many threads (as `lykta serve` runs them) raise alerts about the same
    subjects at once, while decisions append to the audit log: each subject gets one case
    holding all its alerts, opened once, and the audit chain stays whole."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    subjects = [f"user:{n}" for n in range(3)]
    threads, rounds = 6, 8
    start = threading.Barrier(threads)

    def raise_alerts(worker: int) -> list[int | None]:
        start.wait()
        cases = []
        for n in range(rounds):
            subject = subjects[(worker + n) % len(subjects)]
            kind = ("photo", "video", "stream")[n % 3]
            cases.append(review.alerts.record(alert(subject, kind, distance=n)).case_id)
            review.audit.record(f"worker{worker}", "case.view", subject, {"n": n})
        return cases

    with ThreadPoolExecutor(threads) as pool:
        recorded = [case for found in pool.map(raise_alerts, range(threads)) for case in found]
    assert None not in recorded
    queue = review.cases.queue(limit=100)
    assert sorted(case.subject or "" for case in queue) == subjects
    assert sorted(recorded) == sorted(c.id for c in queue for _ in range(c.alert_count))
    for case in queue:
        detail = review.cases.get(case.id, viewer="t")
        assert len(detail.alerts) == case.alert_count == threads * rounds // len(subjects)
        assert [e.action for e in detail.history].count("opened") == 1
        # Every subject had a stream alert and an exact one among its many.
        assert (case.top_source_kind, case.min_distance) == ("stream", 0)
    verified = review.audit.verify()
    assert verified.ok and verified.checked >= threads * rounds


def test_the_queue_puts_streams_first_then_closer_matches_then_bank_order(review: Lykta) -> None:
    ids = {
        name: review.alerts.record(alert(name, kind, distance=d, bank=b)).case_id
        for name, kind, d, b in [
            ("photo-far", "photo", 20, "known"), ("video", "video", 30, "known"),
            ("stream", "stream", 31, "other"), ("photo-near-known", "photo", 4, "known"),
            ("photo-near-urgent", "photo", 4, "urgent"), ("photo-exact", "photo", 0, "other"),
        ]
    }  # fmt: skip
    queue = [case.subject for case in review.cases.queue()]
    assert queue == [
        "stream", "video", "photo-exact", "photo-near-urgent", "photo-near-known", "photo-far",
    ]  # fmt: skip
    # A later, more urgent alert lifts its case.
    review.alerts.record(alert("photo-far", "stream", distance=10))
    assert review.cases.queue(limit=1)[0].id == ids["photo-far"]
    assert [c.subject for c in review.cases.queue(bank="urgent")] == ["photo-near-urgent"]
    with pytest.raises(InvalidInput, match="unknown case state"):
        review.cases.queue(state="done")


def test_the_decision_flow_keeps_its_history_and_opens_a_new_case_after(review: Lykta) -> None:
    case_id = review.alerts.record(alert("user:1")).case_id
    assert case_id is not None
    review.cases.assign(case_id, "alice", actor="lead", note="yours")
    review.cases.decide(case_id, "in_review", actor="alice")
    with pytest.raises(Conflict, match="is in_review and cannot become reported"):
        review.cases.decide(case_id, "reported", actor="alice", may_report=True)
    review.cases.decide(case_id, "confirmed", actor="alice", note="exact match, verified bank")
    # A confirmed case gathers the subject's later media for one report.
    assert review.alerts.record(alert("user:1", "video")).case_id == case_id
    with pytest.raises(Forbidden, match="child_safety"):
        review.cases.decide(case_id, "reported", actor="alice")
    detail = review.cases.decide(case_id, "reported", actor="bob", may_report=True)
    assert detail.case.state == CaseState.REPORTED
    history = [(e.actor, e.action, e.from_state, e.to_state, e.note) for e in detail.history]
    assert history == [
        ("lykta", "opened", None, "new", ""),
        ("lead", "assigned", None, None, "yours"),
        ("alice", "decision", "new", "in_review", ""),
        ("alice", "decision", "in_review", "confirmed", "exact match, verified bank"),
        ("bob", "decision", "confirmed", "reported", ""),
    ]
    assert [a.source_kind for a in detail.alerts] == ["photo", "video"]
    # Reported: the subject's next alert opens a new case.
    assert review.alerts.record(alert("user:1")).case_id != case_id
    actions = [entry.action for entry in review.audit.list()]
    assert actions.count("case.decision") == 3 and "case.assign" in actions
    with pytest.raises(NotFound):
        review.cases.decide(10**9, "confirmed", actor="alice")


def test_a_false_positive_banks_its_hash_as_negative_and_a_misfiring_item_is_quarantined(
    review: Lykta,
) -> None:
    review.load_index()
    source = MatchSource("user:1")
    found = review.lookup_hash("pdq", NEAR, source=source)
    assert [m.external_id for m in found.matches] == ["item-1"]
    [recorded] = review.alerts.list(subject="user:1")
    assert recorded.query_hash == NEAR and recorded.case_id is not None
    with pytest.raises(InvalidInput, match="not a negative bank"):
        review.cases.decide(recorded.case_id, "false_positive", actor="a", negative_bank="known")
    review.cases.decide(recorded.case_id, "false_positive", actor="a", negative_bank="fp")
    # That very hash is now suppressed by the negative bank: no match, no alert.
    again = review.lookup_hash("pdq", NEAR, source=source)
    assert again.matches == [] and [m.bank for m in again.suppressed_by] == ["fp"]
    assert len(review.alerts.list(subject="user:1")) == 1
    [misfire] = review.cases.misfires()
    assert (misfire.bank, misfire.false_positives, misfire.quarantined_at) == ("known", 1, None)

    # A second false positive of the item (a stream's frame) reaches the count of 2.
    item = recorded.content_id
    case_id = review.alerts.record(alert("user:2", "stream", content_id=item)).case_id
    assert case_id is not None
    review.cases.decide(case_id, "false_positive", actor="a", note="a logo")
    [misfire] = review.cases.misfires()
    assert misfire.false_positives == 2 and misfire.quarantined_at is not None
    # Quarantined: its matches are still recorded, but open no case.
    quiet = review.alerts.record(alert("user:3", content_id=item))
    assert quiet.case_id is None
    assert review.cases.queue(subject="user:3") == []
    # Closing a false positive is the end of it.
    review.cases.decide(case_id, "closed", actor="a")
    with pytest.raises(Conflict, match="it can become nothing"):
        review.cases.decide(case_id, "in_review", actor="a")


def test_context_for_the_report(review: Lykta) -> None:
    recorded = review.alerts.record(alert("user:1"))
    at = datetime(2026, 5, 1, 12, tzinfo=UTC)
    review.cases.add_context(
        NewContext("screen_name", " kid_friendly99 "), actor="p", subject="user:1"
    )
    capture = NewContext("ip_capture", "2001:db8::1", "login", at)
    review.cases.add_context(capture, actor="p", alert_id=recorded.id)
    review.cases.add_context(NewContext("chat", "line one\nline two"), actor="p", subject="user:1")
    items = review.cases.context("user:1", viewer="r")
    assert [(i.kind, i.value, i.event, i.alert_id) for i in items] == [
        ("screen_name", "kid_friendly99", None, None),
        ("ip_capture", "2001:db8::1", "login", recorded.id),
        ("chat", "line one\nline two", None, None),
    ]
    assert items[1].at == at
    assert recorded.case_id is not None
    assert len(review.cases.get(recorded.case_id, viewer="r").context) == 3
    for bad, message in [
        (NewContext("email", "not-an-address"), "not an email"),
        (NewContext("ip_capture", "999.1.1.1"), "not an IP address"),
        (NewContext("phone", "123"), "context kind must be one of"),
        (NewContext("screen_name", "a\x00b"), "NUL"),
        (NewContext("chat", "   "), "needs a value"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            review.cases.add_context(bad, actor="p", subject="user:1")
    with pytest.raises(NotFound):
        review.cases.add_context(NewContext("email", "a@b.c"), actor="p", alert_id=10**9)
    assert {e.action for e in review.audit.list()} >= {"context.add", "context.view", "case.view"}


def test_the_settings_are_read(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, case_bank_order=" a, ,b ", quarantine_after=0)
    assert settings.bank_order == ("a", "b") and settings.quarantine_after == 0
