"""The matcher: content items with many hashes, per-kind rules held in memory, bounded
answers, and look-ups that never wait on merges, snapshots or a failing sync."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import event

from lykta.app import Lykta, hash_query
from lykta.banks import content
from lykta.banks.items import ContentItem, ItemHash
from lykta.index import HammingIndex
from lykta.matching import owners
from lykta.outputs import LookupOut
from tests.conftest import make_settings
from tests.hashing.imagegen import cropped, encode, make_textured_photo, rotated

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"


def flip(hex_hash: str, bits: int, start: int = 0) -> str:
    value = int(hex_hash, 16)
    for bit in range(start, start + bits):
        value ^= 1 << (bit * 7 % 256)
    return f"{value:064x}"


def video(external_id: str, frames: list[str]) -> ContentItem:
    hashes = tuple(ItemHash("pdq", f, 90, float(n)) for n, f in enumerate(frames))
    return ContentItem(hashes, external_id, (), "video", float(len(frames) - 1))


def test_content_holds_many_hashes_and_matches_once(core: Lykta) -> None:
    core.banks.create("a")
    frames = [flip(PDQ, 0), flip(PDQ, 60, 0), flip(PDQ, 60, 100)]
    [content_id] = core.banks.add_content("a", [video("clip", frames)]).content_ids
    [stored] = core.banks.list_content("a")
    assert (stored.id, stored.media_kind, stored.duration) == (content_id, "video", 2.0)
    assert [(h.value, h.quality, h.seconds) for h in stored.item.hashes] == [
        (frames[0], 90, 0.0), (frames[1], 90, 1.0), (frames[2], 90, 2.0),
    ]  # fmt: skip
    assert core.matcher.size()["pdq"] == 3
    # Two of its frames are near the query: still one match, the closer one.
    found = core.lookup_hash("pdq", flip(PDQ, 3))
    assert [(m.content_id, m.external_id, m.distance) for m in found.matches] == [
        (content_id, "clip", 3)
    ]
    core.banks.remove_content("a", [content_id])
    assert core.matcher.size()["pdq"] == 0
    assert core.lookup_hash("pdq", frames[2]).matches == []


@pytest.mark.parametrize("always_probe", [0, 20_000], ids=["whole-bank", "probe"])
def test_an_item_is_a_duplicate_when_one_item_holds_all_its_hashes(
    core: Lykta, always_probe: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both ways of finding what the bank holds: reading it whole, or probing its index.
    monkeypatch.setattr(content, "ALWAYS_PROBE", always_probe)
    core.banks.create("a")
    photo = ContentItem((ItemHash("pdq", PDQ), ItemHash("md5", MD5)), "p")
    first = core.banks.add_content("a", [photo, photo])
    assert (first.added, first.duplicates) == (1, 1)
    assert first.content_ids[0] == first.content_ids[1]
    # The bare PDQ is held by the photo already; the PDQ with a new MD5 is a new item.
    other = ContentItem((ItemHash("pdq", PDQ), ItemHash("md5", "0" * 32)), "q")
    again = core.banks.add_content("a", [ContentItem.of_hash("pdq", PDQ), other])
    assert (again.added, again.duplicates) == (1, 1)
    assert again.content_ids[0] == first.content_ids[0] != again.content_ids[1]
    assert core.banks.get("a").content_count == 2


def test_thresholds_per_bank_and_kind(core: Lykta) -> None:
    core.banks.create("a", thresholds={"pdq": {"distance": 10}})
    assert core.banks.get("a").thresholds["pdq"].distance == 10
    assert core.banks.get("a").thresholds["pdq"].min_quality == 50
    core.banks.add_content("a", [ContentItem.of_hash("pdq", PDQ)])
    assert core.lookup_hash("pdq", flip(PDQ, 12)).matches == []
    updated = core.banks.update("a", thresholds={"pdq": {"min_quality": 70}}, pdq_distance=20)
    assert (updated.thresholds["pdq"].distance, updated.thresholds["pdq"].min_quality) == (20, 70)
    assert len(core.lookup_hash("pdq", flip(PDQ, 12), quality=80).matches) == 1
    assert core.lookup_hash("pdq", flip(PDQ, 12), quality=60).matches == []


def test_update_reports_the_content_count(core: Lykta) -> None:
    core.banks.create("a")
    core.banks.add_content("a", [ContentItem.of_hash("md5", MD5)])
    assert core.banks.update("a", description="x").content_count == 1


def test_matches_are_capped_and_never_carry_bank_hashes(tmp_path: Path) -> None:
    core = Lykta.open(make_settings(tmp_path / "home", max_matches=5))
    try:
        core.banks.create("wide", pdq_distance=64)
        near = [flip(PDQ, 1, start) for start in range(30)]
        items = [ContentItem.of_hash("pdq", h, f"n{i}") for i, h in enumerate(near)]
        core.banks.add_content("wide", items)
        found = core.lookup_hash("pdq", PDQ)
        assert (len(found.matches), found.capped, found.match_cap) == (5, True, 5)
        assert all(m.distance == 1 for m in found.matches)
        as_json = LookupOut.of(found).model_dump_json()
        assert not any(h in as_json for h in near)  # only the query's own hash is there
        assert "hash" not in LookupOut.of(found).model_dump()["matches"][0]
        far = flip(PDQ, 120)
        core.banks.add_content("wide", [ContentItem.of_hash("pdq", far, "far")])
        few = core.lookup_hash("pdq", far)
        assert ([m.external_id for m in few.matches], few.capped) == (["far"], False)
    finally:
        core.close()


def test_wide_banks_match_right_after_a_restart_from_a_snapshot(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home")
    core = Lykta.open(settings)
    core.banks.create("a", pdq_distance=45)
    core.banks.add_content("a", [ContentItem.of_hash("pdq", PDQ, "x")])
    assert core.matcher.save_snapshot() is not None
    core.close()
    again = Lykta.open(settings)  # the snapshot is current: nothing to read from the log
    try:
        assert [m.distance for m in again.lookup_hash("pdq", flip(PDQ, 40)).matches] == [40]
    finally:
        again.close()


def test_a_sync_failing_after_a_commit_is_not_the_writers_error(
    sqlite_core: Lykta, monkeypatch: pytest.MonkeyPatch
) -> None:
    core = sqlite_core
    core.banks.create("a")
    real_sync = core.matcher.sync

    def broken(*args: object, **kwargs: object) -> int:
        raise OSError("disk on fire")

    monkeypatch.setattr(core.matcher, "sync", broken)
    summary = core.banks.add_content("a", [ContentItem.of_hash("md5", MD5)])
    assert summary.added == 1  # the write landed and is reported as such
    monkeypatch.setattr(core.matcher, "sync", real_sync)
    core.matcher.sync()  # what the follower does on its next round
    assert len(core.lookup_hash("md5", MD5).matches) == 1


class Gate:
    """Lets a slow step start, holds it until released, and says when it is held."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def hold(self) -> None:
        self.entered.set()
        assert self.release.wait(60), "the test never released the gate"


def test_lookups_and_writes_proceed_while_a_merge_runs(
    sqlite_core: Lykta, monkeypatch: pytest.MonkeyPatch
) -> None:
    core = sqlite_core
    core.banks.create("a")
    core.banks.add_content("a", [ContentItem.of_hash("pdq", PDQ, "before")])
    gate = Gate()
    real_merge = HammingIndex.merge

    def slow_merge(self: HammingIndex) -> None:
        gate.hold()
        real_merge(self)

    monkeypatch.setattr(HammingIndex, "merge", slow_merge)
    merging = threading.Thread(target=core.matcher.merge_pending)
    monkeypatch.setattr(HammingIndex, "needs_merge", lambda self: True)
    merging.start()
    assert gate.entered.wait(30)
    # While the merge holds on: look-ups answer, a write commits and is visible at once.
    assert [m.external_id for m in core.lookup_hash("pdq", PDQ).matches] == ["before"]
    other = flip(PDQ, 80)
    core.banks.add_content("a", [ContentItem.of_hash("pdq", other, "during")])
    assert [m.external_id for m in core.lookup_hash("pdq", other).matches] == ["during"]
    gate.release.set()
    merging.join(30)
    monkeypatch.setattr(HammingIndex, "needs_merge", lambda self: False)
    # The merged index got the change made during the merge replayed onto it.
    assert [m.external_id for m in core.lookup_hash("pdq", other).matches] == ["during"]
    assert [m.external_id for m in core.lookup_hash("pdq", PDQ).matches] == ["before"]
    assert core.matcher.size()["pdq"] == 2


def test_a_merge_that_fails_half_way_is_never_published(
    sqlite_core: Lykta, monkeypatch: pytest.MonkeyPatch
) -> None:
    core = sqlite_core
    core.banks.create("a")
    core.banks.add_content("a", [ContentItem.of_hash("pdq", PDQ, "x")])
    real_merge = HammingIndex.merge

    def failing_merge(self: HammingIndex) -> None:
        # Out of memory part-way: some of the copy's arrays replaced, the rest not.
        self._delta_ids = self._delta_ids[:0]
        self._delta_codes = self._delta_codes[:0]
        raise MemoryError

    monkeypatch.setattr(HammingIndex, "needs_merge", lambda self: True)
    monkeypatch.setattr(HammingIndex, "merge", failing_merge)
    with pytest.raises(MemoryError):
        core.matcher.merge_pending()
    assert [m.external_id for m in core.lookup_hash("pdq", PDQ).matches] == ["x"]
    # Nothing is left waiting on the failed merge: the next one runs and is published.
    monkeypatch.setattr(HammingIndex, "merge", real_merge)
    monkeypatch.setattr(HammingIndex, "needs_merge", lambda self: False)
    core.banks.add_content("a", [ContentItem.of_hash("pdq", flip(PDQ, 80), "y")])
    monkeypatch.setattr(HammingIndex, "needs_merge", lambda self: True)
    core.matcher.merge_pending()
    monkeypatch.setattr(HammingIndex, "needs_merge", lambda self: False)
    assert [m.external_id for m in core.lookup_hash("pdq", PDQ).matches] == ["x"]
    assert core.matcher.size()["pdq"] == 2


def test_lookups_proceed_while_a_snapshot_is_written(
    sqlite_core: Lykta, monkeypatch: pytest.MonkeyPatch
) -> None:
    core = sqlite_core
    core.banks.create("a")
    core.banks.add_content("a", [ContentItem.of_hash("pdq", PDQ, "x")])
    gate = Gate()
    real_save = HammingIndex.save

    def slow_save(self: HammingIndex, path: str | Path) -> None:
        gate.hold()
        real_save(self, path)

    monkeypatch.setattr(HammingIndex, "save", slow_save)
    saving = threading.Thread(target=core.matcher.save_snapshot)
    saving.start()
    assert gate.entered.wait(30)
    assert [m.external_id for m in core.lookup_hash("pdq", PDQ).matches] == ["x"]
    core.banks.add_content("a", [ContentItem.of_hash("md5", MD5, "y")])
    assert [m.external_id for m in core.lookup_hash("md5", MD5).matches] == ["y"]
    gate.release.set()
    saving.join(30)


def test_one_process_writes_snapshots_the_others_only_read(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home")
    first = Lykta.open(settings)
    second = Lykta.open(settings)
    try:
        first.banks.create("a")
        first.banks.add_content("a", [ContentItem.of_hash("pdq", PDQ)])
        assert first.matcher.save_snapshot() is not None
        second.matcher.sync()
        assert second.matcher.save_snapshot() is None  # not the writer: never writes
    finally:
        first.close()
        second.close()
    third = Lykta.open(settings)  # the writer has gone: the next process may write
    try:
        assert third.matcher.save_snapshot() is not None
    finally:
        third.close()


def test_a_replica_follows_local_features_through_the_change_log(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home")
    writer = Lykta.open(settings)
    replica = Lykta.open(settings)
    photos = {seed: make_textured_photo(seed=seed) for seed in (45, 46)}
    edited = {seed: encode(rotated(cropped(photo, 0.1, 3), 4)) for seed, photo in photos.items()}
    try:
        writer.banks.create("robust", local_features=True)
        added = {
            seed: writer.add_media("robust", encode(photo), external_id=f"p{seed}")
            for seed, photo in photos.items()
        }
        replica.matcher.sync()
        for seed, query in edited.items():
            [match] = replica.lookup_photo(query).result.matches
            assert (match.external_id, match.kind) == (f"p{seed}", "orb")
        writer.banks.remove_content("robust", added[46].summary.content_ids)
        replica.matcher.sync()
        assert replica.lookup_photo(edited[46]).result.matches == []
        assert writer.matcher.save_snapshot() is not None
    finally:
        writer.close()
        replica.close()
    restarted = Lykta.open(settings)  # from the snapshot: postings and rows mapped
    try:
        assert restarted.matcher._published.indexes["orb"].mapped  # type: ignore[attr-defined]
        assert [m.external_id for m in restarted.lookup_photo(edited[45]).result.matches] == ["p45"]
        assert restarted.lookup_photo(edited[46]).result.matches == []
    finally:
        restarted.close()


def test_owners_are_answered_from_memory_right_after_a_restart(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home")
    core = Lykta.open(settings)
    core.banks.create("a")
    photo = ContentItem((ItemHash("pdq", PDQ), ItemHash("md5", MD5)), "photo", ("l1", "l2"))
    [photo_id] = core.banks.add_content("a", [photo]).content_ids
    frames = [flip(PDQ, 1, 100), flip(PDQ, 90, 30)]
    [clip_id] = core.banks.add_content("a", [video("clip", frames)]).content_ids
    assert core.matcher.save_snapshot() is not None
    core.close()
    again = Lykta.open(settings)  # cold: nothing looked up yet in this process
    queries: list[str] = []
    event.listen(again.engine, "before_cursor_execute", lambda *a: queries.append(a[2]))
    try:
        found = again.lookup_hash("pdq", PDQ)
        assert [(m.content_id, m.external_id, m.labels, m.distance) for m in found.matches] == [
            (photo_id, "photo", ("l1", "l2"), 0),
            (clip_id, "clip", (), 1),
        ]
        assert [m.content_id for m in again.lookup_hash("md5", MD5).matches] == [photo_id]
        hits = again.matcher.frame_hits([[hash_query("pdq", frames[1], None)]])
        assert [(m.content_id, m.external_id, seconds) for m, seconds in hits[0]] == [
            (clip_id, "clip", 1.0)
        ]
        assert queries == []  # not one database read for owners
    finally:
        again.close()


def test_owners_follow_writes_merges_and_deletions(
    sqlite_core: Lykta, monkeypatch: pytest.MonkeyPatch
) -> None:
    core = sqlite_core
    monkeypatch.setattr(owners, "DELTA_LIMIT", 2)  # every few writes, a merge of owners
    core.banks.create("a")
    near = [flip(PDQ, 1, start) for start in range(8)]
    ids = {}
    for number, value in enumerate(near):
        item = ContentItem.of_hash("pdq", value, f"n{number}" if number % 2 else None)
        [ids[value]] = core.banks.add_content("a", [item]).content_ids
        core.matcher.merge_pending()
    core.banks.remove_content("a", [ids[near[0]], ids[near[3]]])
    core.matcher.merge_pending()
    queries: list[str] = []
    event.listen(core.engine, "before_cursor_execute", lambda *a: queries.append(a[2]))
    for number, value in enumerate(near):
        matches = [m for m in core.lookup_hash("pdq", value).matches if m.distance == 0]
        expected = [] if number in (0, 3) else [(ids[value], f"n{number}" if number % 2 else None)]
        assert [(m.content_id, m.external_id) for m in matches] == expected
    assert queries == []
