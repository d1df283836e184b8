"""The owner table answers what the hash rows say, through adds, deletions, merges,
merges racing with changes, and a save and load."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lykta.matching.owners import Owner, OwnerRows, OwnerTable


def owner(hash_id: int) -> Owner:
    """A varied owner: some with an external id, labels or a frame time, some without."""
    return Owner(
        content_id=hash_id // 3,
        bank_id=hash_id % 4,
        external_id=f"é{hash_id}" if hash_id % 2 else None,
        labels=("x", f"l{hash_id % 5}") if hash_id % 3 else (),
        seconds=hash_id / 4 if hash_id % 7 == 0 else None,
    )


def rows(hash_ids: list[int]) -> OwnerRows:
    out = OwnerRows()
    for hash_id in hash_ids:
        out.add_owner(hash_id, owner(hash_id))
    return out


def ids(values: list[int]) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def check(table: OwnerTable, live: set[int], *, merged: bool = False) -> None:
    """Every live hash has its owner. Deleted ones may linger until a merge (the indexes
    never return them), so only a merged table must have none."""
    found = table.find([*range(0, 400), 2**40])
    assert {hash_id: found.get(hash_id) for hash_id in live} == {h: owner(h) for h in live}
    assert all(owner(hash_id) == value for hash_id, value in found.items())
    if merged:
        assert found.keys() == live


def test_owners_through_adds_removals_merges_and_a_reload(tmp_path: Path) -> None:
    # Out of id order, as the change log yields them across revisions.
    first = [*range(100, 200), *range(0, 100)]
    table = OwnerTable().changed(rows(first), ids([]), merge=True)
    live = set(first)
    check(table, live, merged=True)
    # Removals apply before the additions of the same change-log read, as in the indexes.
    table = table.changed(rows(list(range(200, 230))), ids([5, 6, 150]), merge=False)
    table = table.changed(rows([]), ids([210]), merge=False)
    live = (live | set(range(200, 230))) - {5, 6, 150, 210}
    check(table, live)
    # A merge runs while more changes land; they are replayed onto it.
    base = table
    merged = base.merged()
    table = table.changed(rows(list(range(230, 260))), ids([7, 220]), merge=False)
    table = table.changed(rows([]), ids([231]), merge=False)
    live = (live | set(range(230, 260))) - {7, 220, 231}
    rebased = merged.rebased(base, table)
    assert rebased is not None
    check(rebased, live)
    check(rebased.merged(), live, merged=True)
    # A merge of a version that a big sync replaced meanwhile is not published.
    replaced = table.changed(rows(list(range(260, 300))), ids([]), merge=True)
    assert table.merged().rebased(table, replaced) is None
    live |= set(range(260, 300))
    check(replaced, live)
    # A replay of hashes the table holds already (a snapshot covers part of the log).
    replayed = replaced.changed(rows(list(range(280, 320))), ids([]), merge=True)
    live |= set(range(300, 320))
    check(replayed, live)
    replayed.changed(rows([320]), ids([8]), merge=False).save(tmp_path / "owners")
    loaded = OwnerTable.load(tmp_path / "owners")
    check(loaded, (live | {320}) - {8}, merged=True)
    assert loaded.nbytes < 40 * len(live | {320})


def test_an_empty_table_saves_and_loads(tmp_path: Path) -> None:
    OwnerTable().save(tmp_path / "owners")
    check(OwnerTable.load(tmp_path / "owners"), set(), merged=True)


def test_a_bare_hash_costs_twelve_bytes() -> None:
    bare = OwnerRows()
    for hash_id in range(1, 10_001):
        bare.append(hash_id, hash_id, 1, None, None, '["bench"]')
    table = OwnerTable().changed(bare, ids([]), merge=True)
    assert table.find([77]) == {77: Owner(77, 1, None, ("bench",))}
    assert table.nbytes <= 12 * 10_000 + 64
