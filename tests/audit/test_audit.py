"""The audit log is a chain: verification passes on an intact log and names the first
entry edited, deleted or moved, or says that entries were cut off the end."""

from __future__ import annotations

from sqlalchemy import text

from lykta.app import Lykta


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
