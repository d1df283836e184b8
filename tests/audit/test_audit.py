"""The audit log is a chain: verification passes on an intact log and names the first
entry edited, deleted or moved, or says that entries were cut off the end."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select, text

from lykta.app import Lykta
from lykta.audit import log
from lykta.store.models import AuditEntry


def _log(core: Lykta, count: int) -> list[int]:
    return [core.audit.record(f"user{n}", "case.view", f"case:{n}", {"n": n}) for n in range(count)]


def test_an_intact_log_verifies_and_reads_newest_first(core: Lykta) -> None:
    assert core.audit.verify().ok
    ids = _log(core, 5)
    result = core.audit.verify()
    assert (result.ok, result.checked) == (True, 5)
    newest = core.audit.list(limit=2)
    assert [e.id for e in newest] == ids[:-3:-1]
    assert newest[0].detail == {"n": 4} and newest[0].actor == "user4"
    assert [e.id for e in core.audit.list(actor="user1")] == [ids[1]]
    assert [e.id for e in core.audit.list(before=ids[1])] == [ids[0]]


def test_an_edited_entry_is_named(core: Lykta) -> None:
    ids = _log(core, 4)
    with core.engine.begin() as connection:
        connection.execute(
            text("UPDATE audit_entry SET actor = 'someone else' WHERE id = :i"), {"i": ids[2]}
        )
    result = core.audit.verify()
    assert (result.ok, result.first_bad, result.checked) == (False, ids[2], 2)
    assert "edited" in result.problem


def test_a_deleted_or_moved_entry_is_named(core: Lykta) -> None:
    ids = _log(core, 4)
    with core.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_entry WHERE id = :i"), {"i": ids[1]})
    result = core.audit.verify()
    assert (result.ok, result.first_bad) == (False, ids[2])
    assert "does not follow" in result.problem


def test_entries_cut_off_the_end_are_noticed(core: Lykta) -> None:
    ids = _log(core, 3)
    with core.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_entry WHERE id = :i"), {"i": ids[-1]})
    result = core.audit.verify()
    assert (result.ok, result.first_bad, result.checked) == (False, None, 2)
    assert "missing from the end" in result.problem


def test_a_break_is_named_across_fetched_batches(
    core: Lykta, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verification fetches batches on a thread while it hashes: a break in a later batch
    is still the one named, and stopping early leaves the connection usable."""
    monkeypatch.setattr(log, "VERIFY_BATCH", 3)
    ids = _log(core, 10)
    assert core.audit.verify().checked == 10
    with core.engine.begin() as connection:
        edit = text("UPDATE audit_entry SET detail = '{}' WHERE id = :i")
        connection.execute(edit, {"i": ids[7]})
    result = core.audit.verify()
    assert (result.ok, result.first_bad, result.checked) == (False, ids[7], 7)
    assert core.audit.list(limit=1)[0].id == ids[-1]


def test_appenders_on_many_threads_keep_one_chain(core: Lykta) -> None:
    def append(worker: int) -> None:
        for n in range(10):
            core.audit.record(f"worker{worker}", "case.view", f"case:{n}", {"n": n})

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(append, range(6)))
    result = core.audit.verify()
    assert (result.ok, result.checked) == (True, 60)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
        min_size=1,
        max_size=10,
    )
)
def test_the_database_writes_times_as_the_hash_reads_them(
    core: Lykta, moments: list[datetime]
) -> None:
    """Verification hashes `at` as the database formats it, not as Python parses it: the
    two must agree on every time, with or without microseconds."""
    moments = [m.replace(tzinfo=UTC) for m in moments] + [datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)]
    with core.engine.begin() as connection:
        connection.execute(delete(AuditEntry))
        connection.execute(
            insert(AuditEntry),
            [
                {"at": m, "actor": "a", "action": "b", "target": "", "detail": "{}",
                 "prev_hash": "", "entry_hash": ""}
                for m in moments
            ],
        )  # fmt: skip
        written = connection.execute(
            select(log.iso_text(connection.dialect.name)).order_by(AuditEntry.id)
        ).scalars()
        assert [log._iso(text) for text in written] == [m.isoformat() for m in moments]
        connection.execute(delete(AuditEntry))


def test_entries_appended_during_a_verification_are_not_a_broken_end(
    core: Lykta, monkeypatch: pytest.MonkeyPatch
) -> None:
    _log(core, 3)
    read_entries = log.AuditLog._batches

    def appending_first(connection):  # type: ignore[no-untyped-def]
        # Between the head's read and the entries': another writer appends (and commits).
        core.audit.record("someone", "case.view", "case:9", {})
        yield from read_entries(connection)

    monkeypatch.setattr(log.AuditLog, "_batches", staticmethod(appending_first))
    result = core.audit.verify()
    assert (result.ok, result.checked) == (True, 3), result.problem
    monkeypatch.undo()
    assert (core.audit.verify().ok, core.audit.verify().checked) == (True, 4)
