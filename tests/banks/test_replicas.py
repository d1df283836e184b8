"""Several replicas on one PostgreSQL follow each other's bank changes through the change log,
incrementally; a restart maps the index snapshot instead of re-reading. How fast a change
reaches the other replica is a benchmark's figure (bench/bench_replicas.py), not a test's."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lykta.app import Lykta
from lykta.banks.items import ContentItem
from tests.conftest import make_settings

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
OTHER = "0f0f0f0f" * 8


def eventually(check: Callable[[], bool], within: float = 60.0) -> None:
    """Wait for `check` to hold; the deadline only catches a change that never arrives."""
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"still not true after {within:g} s"
        time.sleep(0.02)


def test_two_replicas_on_postgres(tmp_path: Path, postgres_schema_url: str) -> None:
    first = Lykta.open(
        make_settings(tmp_path / "a", database_url=postgres_schema_url, sync_interval=0.2)
    )
    second = Lykta.open(
        make_settings(tmp_path / "b", database_url=postgres_schema_url, sync_interval=0.2)
    )
    first.matcher.start(0.2)
    second.matcher.start(0.2)
    try:
        first.banks.create("a")
        first.banks.add_content("a", [ContentItem.of_hash("pdq", PDQ, "x")])
        eventually(lambda: len(second.lookup_hash("pdq", PDQ).matches) == 1)
        assert second.matcher.size()["pdq"] == 1

        # Bank settings apply at once where they were changed, and in the other replica
        # as soon as it follows the change log (held in memory, never read per look-up).
        first.banks.update("a", enabled=False)
        assert first.lookup_hash("pdq", PDQ).matches == []
        eventually(lambda: second.lookup_hash("pdq", PDQ).matches == [])
        second.banks.update("a", enabled=True)
        eventually(lambda: len(first.lookup_hash("pdq", PDQ).matches) == 1)

        [content] = first.banks.list_content("a")
        second.banks.add_content("a", [ContentItem.of_hash("pdq", OTHER, "y")])
        second.banks.remove_content("a", [content.id])
        eventually(lambda: first.lookup_hash("pdq", PDQ).matches == [])
        eventually(lambda: first.matcher.revision >= second.matcher.revision)
        assert [m.external_id for m in first.lookup_hash("pdq", OTHER).matches] == ["y"]
        assert first.matcher.size()["pdq"] == 1  # the removal was applied, not just filtered
    finally:
        first.close()
        second.close()


def test_restart_loads_snapshot_then_follows_log(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home")
    core = Lykta.open(settings)
    core.banks.create("a")
    core.banks.add_content(
        "a", [ContentItem.of_hash("pdq", PDQ, "x"), ContentItem.of_hash("pdq", OTHER, "y")]
    )
    snapshot = core.matcher.save_snapshot()
    assert snapshot is not None and (snapshot / "pdq").exists()
    [first_id, _] = [c.id for c in core.banks.list_content("a")]
    core.banks.remove_content("a", [first_id])  # after the snapshot: must be replayed
    core.close()

    again = Lykta.open(settings, sync=False)
    again.matcher.sync()
    assert again.matcher.size()["pdq"] == 1
    assert again.lookup_hash("pdq", PDQ).matches == []
    assert [m.external_id for m in again.lookup_hash("pdq", OTHER).matches] == ["y"]
    again.close()


def test_unreadable_snapshot_is_dropped_and_rebuilt(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home")
    core = Lykta.open(settings)
    core.banks.create("a")
    core.banks.add_content("a", [ContentItem.of_hash("pdq", PDQ, "x")])
    snapshot = core.matcher.save_snapshot()
    core.close()
    assert snapshot is not None
    (snapshot / "pdq" / "meta.json").write_text("{not json")

    again = Lykta.open(settings)
    assert [m.external_id for m in again.lookup_hash("pdq", PDQ).matches] == ["x"]
    rebuilt = again.matcher.save_snapshot()
    again.close()
    assert rebuilt == snapshot and json.loads((rebuilt / "pdq" / "meta.json").read_text())


def test_log_is_read_completely_across_pages_and_revisions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lykta.matching import changelog

    monkeypatch.setattr(changelog, "PAGE", 3)
    settings = make_settings(tmp_path / "home", snapshot_index=False)
    core = Lykta.open(settings)
    core.banks.create("a")
    hashes = [f"{value:064x}" for value in range(1, 23)]
    for start in (0, 7, 8, 15):  # revisions of 7, 1, 7 and 7 rows
        end = {0: 7, 7: 8, 8: 15, 15: 22}[start]
        core.banks.add_content("a", [ContentItem.of_hash("pdq", h, h) for h in hashes[start:end]])
    ids = {c.external_id: c.id for c in core.banks.list_content("a", limit=100)}
    core.banks.remove_content("a", [ids[hashes[0]], ids[hashes[9]], ids[hashes[21]]])
    core.close()

    fresh = Lykta.open(settings)
    assert fresh.matcher.size()["pdq"] == 19
    for number, value in enumerate(hashes):
        found = [m.external_id for m in fresh.lookup_hash("pdq", value).matches if m.distance == 0]
        assert found == ([] if number in (0, 9, 21) else [value])
    fresh.close()


def test_disabled_content_follows_to_the_other_replica(
    tmp_path: Path, postgres_schema_url: str
) -> None:
    """HMA's per-content switch (`disable_until_ts`) travels through the change log too."""
    first = Lykta.open(
        make_settings(tmp_path / "a", database_url=postgres_schema_url, sync_interval=0.2)
    )
    second = Lykta.open(
        make_settings(tmp_path / "b", database_url=postgres_schema_url, sync_interval=0.2)
    )
    second.matcher.start(0.2)
    try:
        first.banks.create("a")
        [content_id] = first.banks.add_content(
            "a", [ContentItem.of_hash("pdq", PDQ, "x")]
        ).content_ids
        eventually(lambda: len(second.lookup_hash("pdq", PDQ).matches) == 1)
        updated = first.banks.update_content("a", content_id, disable_until_ts=0, note="why")
        assert (updated.disable_until_ts, updated.note) == (0, "why")
        assert first.lookup_hash("pdq", PDQ).matches == []
        eventually(lambda: second.lookup_hash("pdq", PDQ).matches == [])
        first.banks.update_content("a", content_id, disable_until_ts=1)
        eventually(lambda: len(second.lookup_hash("pdq", PDQ).matches) == 1)
        assert second.banks.get_content("a", content_id).note == "why"
    finally:
        first.close()
        second.close()
