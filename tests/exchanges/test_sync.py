"""Syncs from local NCMEC- and StopNCII-like servers, on SQLite and PostgreSQL: deltas,
upstream deletions, crashes, throttling, atomic batches, the lock and the credentials."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from lykta.app import Lykta
from lykta.errors import Conflict, NotConfigured
from lykta.exchanges import ExchangeError
from lykta.exchanges import service as exchange_service
from lykta.store.models import Content, ExchangeItem, utcnow
from lykta.store.models import Exchange as ExchangeRow
from tests.exchanges.conftest import add_ncmec, add_stopncii, md5_of, ncmec_entries, pdq_of
from tests.exchanges.servers import NCMEC_PASSWORD, NcmecEntry, NcmecState, StopNciiState

pytestmark = pytest.mark.usefixtures("credentials")


def _external_ids(core: Lykta, bank: str) -> list[str | None]:
    return [item.external_id for item in core.banks.export(bank)]


def _wait_a_second() -> None:
    # NCMEC's client fetches up to five seconds before now, in whole seconds: a second
    # sync in the same second has no time range to fetch.
    time.sleep(1.1)


def test_ncmec_sync_adds_updates_and_removes(core: Lykta, ncmec: tuple[NcmecState, str]) -> None:
    state, url = ncmec
    for entry in ncmec_entries(2500):
        state.put(entry)
    add_ncmec(core, url)
    core.exchanges.batch_items = 1000
    seen: list[int] = []
    result = core.exchanges.sync("NCMEC", progress=lambda n, _ts: seen.append(n))
    assert result.added == 2500 and result.removed == 0
    assert result.batches >= 3 and seen == sorted(seen) and seen[-1] == result.written
    assert core.banks.kind_counts("NCMEC") == {"pdq": 2000, "md5": 500}
    ids = _external_ids(core, "NCMEC")
    assert len(ids) == len(set(ids)) == 2500
    assert set(ids) == {f"{e.member_id}-{e.id}" for e in ncmec_entries(2500)}
    found = core.lookup_hash("pdq", pdq_of(7)).matches
    assert [(m.bank, m.external_id, m.labels) for m in found] == [("NCMEC", "101-i7", ("A1",))]
    assert core.lookup_hash("md5", md5_of(9)).matches[0].external_id == "100-v9"
    with core.sessions() as session:
        row = session.scalars(select(ExchangeItem).where(ExchangeItem.item_key == "101-i7")).one()
        assert row.opinion == "positive_class" and row.labels_json == '["A1"]'
        assert row.fetched_at is not None
    status = core.exchanges.get("NCMEC").status
    assert status.items == 2500 and status.up_to_date and status.last_succeeded
    assert status.checkpoint_ts is not None and status.lock_holder is None

    # Upstream: one new entry, one reclassified, one deleted; the next sync follows.
    _wait_a_second()
    now = int(time.time()) - 5
    state.put(NcmecEntry("i9000", 7, "image", now, {"pdq": pdq_of(9000)}))
    state.put(NcmecEntry("i8", 102, "image", now, {"pdq": pdq_of(8)}, classification="B2"))
    state.delete("i7", now)
    result = core.exchanges.sync("NCMEC")
    assert (result.added, result.updated, result.removed) == (1, 1, 1)
    assert core.lookup_hash("pdq", pdq_of(7)).matches == []
    assert core.lookup_hash("pdq", pdq_of(9000)).matches[0].external_id == "7-i9000"
    assert core.lookup_hash("pdq", pdq_of(8)).matches[0].labels == ("B2",)
    assert core.banks.get("NCMEC").content_count == 2500
    assert core.exchanges.get("NCMEC").status.items == 2500


def test_crash_mid_sync_resumes_from_the_last_checkpoint(
    core: Lykta, ncmec: tuple[NcmecState, str]
) -> None:
    state, url = ncmec
    for entry in ncmec_entries(5000):
        state.put(entry)
    add_ncmec(core, url)
    core.exchanges.batch_items = 1000
    core.exchanges.retries = 0

    # After three pages the client keeps (of about seven), the server answers nothing but
    # errors. Set before the sync starts, not from a progress callback: the fetcher runs
    # ahead of the writer and may have every page before the first batch is committed.
    state.failures.after = 3

    with pytest.raises(ExchangeError, match="500"):
        core.exchanges.sync("NCMEC")
    status = core.exchanges.get("NCMEC").status
    assert status.last_succeeded is False and "500" in status.last_error
    assert status.lock_holder is None and not status.up_to_date
    partial = core.banks.get("NCMEC").content_count
    assert 0 < partial < 5000
    assert status.items == partial  # provenance and content moved together

    state.failures.after = None
    requests_before = len(state.requests)
    result = core.exchanges.sync("NCMEC")
    ids = _external_ids(core, "NCMEC")
    assert len(ids) == len(set(ids)) == 5000
    # Resumed, not started over: far fewer pages than a whole fetch again.
    assert len(state.requests) - requests_before < requests_before
    assert result.added == 5000 - partial


@pytest.mark.parametrize("status", [429, 503])
def test_a_failing_page_is_fetched_again(
    core: Lykta, ncmec: tuple[NcmecState, str], status: int
) -> None:
    state, url = ncmec
    for entry in ncmec_entries(3000):
        state.put(entry)
    add_ncmec(core, url)
    core.exchanges.backoff = 0.01
    # More failures in a row than the client's own retries (4) after the second page of
    # entries: Lykta's retry takes over, from the last committed checkpoint.
    real_take = state.failures.take
    calls = {"failed": 0}

    def take() -> tuple[int, str | None] | None:
        if state.failures.served >= 2 and calls["failed"] < 6:
            calls["failed"] += 1
            return status, "0"
        return real_take()

    state.failures.take = take  # type: ignore[method-assign]
    core.exchanges.batch_items = 1000
    result = core.exchanges.sync("NCMEC")
    assert result.retries >= 1
    ids = _external_ids(core, "NCMEC")
    assert len(ids) == len(set(ids)) == 3000
    assert core.exchanges.get("NCMEC").status.last_succeeded


def test_a_batch_lands_whole_or_not_at_all(
    core: Lykta, ncmec: tuple[NcmecState, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state, url = ncmec
    for entry in ncmec_entries(3000):
        state.put(entry)
    add_ncmec(core, url)
    core.exchanges.batch_items = 1000
    core.exchanges.retries = 0
    real = exchange_service._write_new
    calls = {"n": 0}

    def fail_second(*args: object, **kwargs: object) -> None:
        calls["n"] += 1
        real(*args, **kwargs)  # type: ignore[arg-type]
        if calls["n"] == 2:
            raise RuntimeError("disk full")

    monkeypatch.setattr(exchange_service, "_write_new", fail_second)
    with pytest.raises(ExchangeError, match="disk full"):
        core.exchanges.sync("NCMEC")
    with core.sessions() as session:
        checkpoint = session.scalar(select(ExchangeRow.checkpoint_json))
        contents = session.scalar(select(func.count()).select_from(Content))
        items = session.scalar(select(func.count()).select_from(ExchangeItem))
    first = core.banks.get("NCMEC").content_count
    # Only the first batch, whole: its content, its provenance and its checkpoint.
    assert 1000 <= first < 3000 and contents == items == first
    assert checkpoint is not None
    monkeypatch.setattr(exchange_service, "_write_new", real)
    core.exchanges.sync("NCMEC")
    assert core.banks.get("NCMEC").content_count == 3000


def test_the_lock_lets_one_sync_run(core: Lykta, ncmec: tuple[NcmecState, str]) -> None:
    state, url = ncmec
    for entry in ncmec_entries(2000):
        state.put(entry)
    add_ncmec(core, url)
    core.exchanges.batch_items = 500
    refused: list[str] = []

    def another_replica(_n: int, _ts: int | None) -> None:
        if not refused:
            with pytest.raises(Conflict, match="being synced") as error:
                core.exchanges.sync("NCMEC", holder="replica-2")
            refused.append(str(error.value))

    core.exchanges.sync("NCMEC", progress=another_replica)
    assert refused and core.banks.get("NCMEC").content_count == 2000
    # A holder that crashed leaves a lock that expires; after that anyone may sync.
    with core.sessions() as session, session.begin():
        session.execute(
            update(ExchangeRow).values(lock_holder="crashed", lock_until=utcnow() + timedelta(60))
        )
    with pytest.raises(Conflict, match="crashed"):
        core.exchanges.sync("NCMEC")
    with core.sessions() as session, session.begin():
        session.execute(update(ExchangeRow).values(lock_until=utcnow() - timedelta(seconds=1)))
    _wait_a_second()
    core.exchanges.sync("NCMEC")
    assert core.exchanges.get("NCMEC").status.lock_holder is None


def test_credentials_never_reach_logs_or_listings(
    core: Lykta,
    ncmec: tuple[NcmecState, str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state, url = ncmec
    for entry in ncmec_entries(1500):
        state.put(entry)
    add_ncmec(core, url)
    caplog.set_level(logging.DEBUG)
    core.exchanges.sync("NCMEC")
    assert state.auth_headers and all(state.auth_headers)  # they were sent...
    listed = repr(core.exchanges.list_exchanges())
    assert "env:LYKTA_TEST_NCMEC" in listed
    # ...and are nowhere else: not in the database row, the listing or any log line.
    wrong = "wrong-password-31337"
    monkeypatch.setenv("LYKTA_TEST_NCMEC", f"esp-user:{wrong}")
    _wait_a_second()  # else the second sync may have no time range to fetch, and no request
    with pytest.raises(ExchangeError) as error:
        core.exchanges.sync("NCMEC")
    assert "401" in str(error.value)
    for secret in (NCMEC_PASSWORD, wrong):
        assert secret not in caplog.text
        assert secret not in listed
        assert secret not in str(error.value)
        assert secret not in repr(core.exchanges.get("NCMEC"))


def test_missing_credentials_say_where_to_put_them(core: Lykta, tmp_path: Path) -> None:
    core.exchanges.add("NCMEC", "ncmec", config={"environment": "test_Industry"},
                       credentials=f"file:{tmp_path / 'none'}")  # fmt: skip
    with pytest.raises(NotConfigured, match="not set or not readable"):
        core.exchanges.sync("NCMEC")
    assert core.exchanges.get("NCMEC").status.last_succeeded is False


def test_stopncii_sync_follows_withdrawals(
    core: Lykta, stopncii: tuple[StopNciiState, str]
) -> None:
    state, url = stopncii
    now = int(time.time())
    for n in range(2000):
        state.put("ImagePDQ", pdq_of(n), now - 100 + n % 50, feedback="Blocked", tags=("ncii",))
    state.put("VideoMD5", md5_of(1), now - 50)
    state.put("URL", "https://example.invalid/x", now - 50)  # no kind of Lykta's: left out
    state.put("ImagePDQ", pdq_of(5000), now - 50, feedback="NotBlocked")
    add_stopncii(core, url)
    core.exchanges.batch_items = 700
    result = core.exchanges.sync("STOPNCII")
    assert result.added == 2002
    assert core.banks.kind_counts("STOPNCII") == {"pdq": 2001, "md5": 1}
    match = core.lookup_hash("pdq", pdq_of(3)).matches[0]
    assert match.external_id == f"pdq:{pdq_of(3)}" and match.labels == ("ncii",)
    with core.sessions() as session:
        opinion = session.scalar(
            select(ExchangeItem.opinion).where(ExchangeItem.item_key == f"pdq:{pdq_of(5000)}")
        )
    assert opinion == "disputed"  # a platform said it is not NCII; the case stands

    state.put("ImagePDQ", pdq_of(3), now + 10, status="Withdrawn")
    state.put("ImagePDQ", pdq_of(9999), now + 10)
    result = core.exchanges.sync("STOPNCII")
    assert (result.added, result.removed) == (1, 1)
    assert core.lookup_hash("pdq", pdq_of(3)).matches == []
    assert core.lookup_hash("pdq", pdq_of(9999)).matches


def test_stopncii_throttling_is_retried(core: Lykta, stopncii: tuple[StopNciiState, str]) -> None:
    state, url = stopncii
    for n in range(100):
        state.put("ImagePDQ", pdq_of(n), 1000 + n)
    add_stopncii(core, url)
    core.exchanges.backoff = 0.01
    state.failures.count, state.failures.status, state.failures.retry_after = 7, 429, "0"
    result = core.exchanges.sync("STOPNCII")
    assert result.retries == 1 and result.added == 100
    assert state.failures.count == 0


def test_lists_without_deltas_remove_what_they_drop(core: Lykta, tmp_path: Path) -> None:
    signals = tmp_path / "signals.txt"
    signals.write_text("".join(f"pdq {pdq_of(n)}\n" for n in range(5)))
    core.exchanges.add("LIST", "local_file", config={"filename": str(signals)})
    assert core.exchanges.sync("LIST").added == 5
    signals.write_text("".join(f"pdq {pdq_of(n)}\n" for n in range(2, 6)))
    result = core.exchanges.sync("LIST")
    assert (result.added, result.removed, result.unchanged) == (1, 2, 3)
    assert sorted(_external_ids(core, "LIST")) == sorted(f"pdq:{pdq_of(n)}" for n in range(2, 6))
    core.exchanges.add("SAMPLE", "sample")
    assert core.exchanges.sync("SAMPLE").added > 0


def test_deleting_the_bank_deletes_its_exchange(core: Lykta, tmp_path: Path) -> None:
    signals = tmp_path / "signals.txt"
    signals.write_text(f"pdq {pdq_of(1)}\n")
    core.exchanges.add("LIST", "local_file", config={"filename": str(signals)})
    core.exchanges.sync("LIST")
    core.banks.delete("LIST")
    assert core.exchanges.list_exchanges() == []
    with core.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ExchangeItem)) == 0
    assert core.exchanges.remove("LIST") is False


def test_lykta_serve_syncs_on_schedule(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from lykta.api.main import create_app
    from tests.conftest import make_settings

    core = Lykta.open(make_settings(tmp_path / "home", exchange_interval=1))
    try:
        core.exchanges.add("SAMPLE", "sample")
        with TestClient(create_app(core)):
            for _ in range(100):
                if core.exchanges.get("SAMPLE").status.last_succeeded:
                    break
                time.sleep(0.1)
        status = core.exchanges.get("SAMPLE").status
        assert status.last_succeeded and status.items > 0
    finally:
        core.close()
