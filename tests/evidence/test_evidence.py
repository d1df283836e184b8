"""Evidence of confirmed cases, on SQLite and PostgreSQL: preserved encrypted and
content-addressed when a case is confirmed, kept uploads included, read back audited,
legal hold, and the purge job."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from lykta.alerts import MatchSource, NewAlert
from lykta.app import Lykta
from lykta.errors import InvalidInput, NotConfigured, NotFound
from lykta.evidence import BlobStore, parse_key
from lykta.settings import Settings
from tests.conftest import TEST_EVIDENCE_KEY, make_settings

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def alert(subject: str) -> NewAlert:
    return NewAlert(
        source_kind="video", source_id="clip-1", source_uri="", offset_s=2.0, bank="known",
        content_id=1, external_id="item-1", labels=(), kind="pdq", distance=3,
        transform="original", subject=subject, query_hash=PDQ,
    )  # fmt: skip


@pytest.fixture
def review(settings: Settings) -> Iterator[Lykta]:
    core = Lykta.open(make_settings(settings.home, database_url=settings.database_url,
                                    evidence_keep_uploads=True), sync=True)  # fmt: skip
    core.banks.create("known")
    yield core
    core.close()


def confirmed_case(core: Lykta, subject: str = "user:1") -> int:
    case_id = core.alerts.record(alert(subject)).case_id
    assert case_id is not None
    core.cases.decide(case_id, "confirmed", actor="rita")
    return case_id


def test_a_confirmed_case_is_preserved_encrypted_and_content_addressed(review: Lykta) -> None:
    case_id = confirmed_case(review)
    info = review.evidence.info(case_id)
    assert [item.kind for item in info.items] == ["case_record"]
    assert info.retain_until is not None and info.created_at is not None
    assert info.retain_until - info.created_at == timedelta(days=365)
    item = info.items[0]
    stored = review.evidence.store.path(item.sha256).read_bytes()
    assert b"user:1" not in stored and PDQ.encode() not in stored  # encrypted at rest
    record = json.loads(review.evidence.read(case_id, item.sha256, viewer="rita"))
    assert record["case"]["subject"] == "user:1"
    assert record["alerts"][0]["query_hash"] == PDQ
    actions = [entry.action for entry in review.audit.list(target=f"case:{case_id}")]
    assert "evidence.preserve" in actions and "evidence.read" in actions
    assert review.audit.verify().ok


def test_a_case_not_confirmed_keeps_no_evidence(review: Lykta) -> None:
    case_id = review.alerts.record(alert("user:2")).case_id
    assert case_id is not None
    review.cases.decide(case_id, "false_positive", actor="rita")
    with pytest.raises(NotFound, match="no evidence"):
        review.evidence.info(case_id)


def test_a_kept_upload_joins_the_evidence(review: Lykta, photo: bytes) -> None:
    review.add_media("known", photo, external_id="benign")
    found = review.lookup_photo(photo, source=MatchSource(subject="user:3"))
    assert found.result.matches
    case_id = review.cases.queue(subject="user:3")[0].id
    review.cases.decide(case_id, "confirmed", actor="rita")
    media = [i for i in review.evidence.info(case_id).items if i.kind == "media"]
    assert len(media) == 1
    assert review.evidence.read(case_id, media[0].sha256, viewer="rita") == photo


def test_confirming_without_a_key_is_refused_clearly(settings: Settings) -> None:
    core = Lykta.open(make_settings(settings.home, database_url=settings.database_url,
                                    evidence_key=""), sync=False)  # fmt: skip
    try:
        case_id = core.alerts.record(alert("user:4")).case_id
        assert case_id is not None
        with pytest.raises(NotConfigured, match="LYKTA_EVIDENCE_KEY is not set"):
            core.cases.decide(case_id, "confirmed", actor="rita")
        # The decision was refused whole: the case is still new.
        assert core.cases.get(case_id, viewer="t").case.state == "new"
    finally:
        core.close()


def test_the_key_must_be_32_bytes_and_the_wrong_key_does_not_decrypt(tmp_path: object) -> None:
    with pytest.raises(NotConfigured, match="32 bytes"):
        parse_key("abcd")
    assert parse_key(TEST_EVIDENCE_KEY) == bytes.fromhex(TEST_EVIDENCE_KEY)
    from pathlib import Path

    root = Path(str(tmp_path))
    sha = BlobStore(root, TEST_EVIDENCE_KEY).put(b"benign bytes")
    with pytest.raises(InvalidInput, match="does not decrypt"):
        BlobStore(root, "ff" * 32).get(sha)


def test_purge_deletes_what_is_past_retention_unless_held(review: Lykta) -> None:
    kept = confirmed_case(review, "user:5")
    gone = confirmed_case(review, "user:6")
    review.evidence.hold(kept, True, actor="lawyer", note="subpoena 12")
    files = {i.sha256 for i in review.evidence.info(gone).items}
    assert review.evidence.purge().cases == []  # nothing is due yet
    later = datetime.now(UTC) + timedelta(days=366)
    result = review.evidence.purge(now=later)
    assert result.cases == [gone]
    assert result.files_deleted == len(files)
    assert review.evidence.info(gone).items == [] and review.evidence.info(gone).purged_at
    assert all(not review.evidence.store.exists(sha) for sha in files)
    assert review.evidence.info(kept).items  # on hold: kept past retention
    purges = review.audit.list(action="evidence.purge")
    assert [entry.target for entry in purges] == [f"case:{gone}"]
    review.evidence.hold(kept, False, actor="lawyer")
    assert review.evidence.purge(now=later).cases == [kept]
    assert review.audit.verify().ok


def test_the_server_runs_the_purge_job_in_the_background(review: Lykta) -> None:
    import asyncio

    from sqlalchemy import update

    from lykta.api.main import purge_evidence
    from lykta.store.models import Evidence

    case_id = confirmed_case(review, "user:7")
    with review.sessions() as session, session.begin():
        session.execute(update(Evidence).values(retain_until=datetime.now(UTC) - timedelta(days=1)))

    async def run_briefly() -> None:
        job = asyncio.create_task(purge_evidence(review, 0.01))
        for _ in range(500):
            await asyncio.sleep(0.01)
            if review.evidence.info(case_id).purged_at is not None:
                break
        job.cancel()

    asyncio.run(run_briefly())
    assert review.evidence.info(case_id).purged_at is not None
    assert [e.target for e in review.audit.list(action="evidence.purge")] == [f"case:{case_id}"]
