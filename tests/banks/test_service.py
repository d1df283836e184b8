"""Banks and their content on SQLite and PostgreSQL: CRUD, transactional imports, matching
rules (thresholds, quality, negative banks, disabling) taking effect on the next look-up in
the process that made the change."""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping

import pytest

from lykta.app import Lykta
from lykta.banks.formats import get_format
from lykta.banks.items import ContentItem, ItemHash
from lykta.banks.validation import Threshold
from lykta.errors import Conflict, InvalidInput, NotFound

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"


def flip_bits(hex_hash: str, count: int) -> str:
    value = int(hex_hash, 16)
    for bit in range(count):
        value ^= 1 << (bit * 7 % 256)
    return f"{value:064x}"


def test_create_list_update_delete(core: Lykta) -> None:
    core.banks.create("ncmec", source="NCMEC", licence="members only", pdq_distance=20)
    core.banks.create("own-negatives", negative=True)
    names = [b.name for b in core.banks.list_banks()]
    assert names == ["ncmec", "own-negatives"]
    bank = core.banks.get("ncmec")
    assert (bank.source, bank.licence, bank.thresholds["pdq"]) == (
        "NCMEC", "members only", Threshold(20, 50),
    )  # fmt: skip
    core.banks.update("ncmec", enabled=False, name="ncmec-2")
    assert core.banks.get("ncmec-2").enabled is False
    with pytest.raises(NotFound):
        core.banks.get("ncmec")
    core.banks.delete("ncmec-2")
    assert [b.name for b in core.banks.list_banks()] == ["own-negatives"]


def test_bad_bank_input(core: Lykta) -> None:
    core.banks.create("a")
    with pytest.raises(Conflict, match="exists"):
        core.banks.create("a")
    with pytest.raises(InvalidInput, match="bad bank name"):
        core.banks.create("has space")
    with pytest.raises(InvalidInput, match="pdq_distance must be between 0 and 64"):
        core.banks.create("b", pdq_distance=65)
    with pytest.raises(InvalidInput, match="match exactly"):
        core.banks.create("b", thresholds={"md5": {"distance": 3}})
    with pytest.raises(InvalidInput, match="unknown hash type"):
        core.banks.create("b", thresholds={"sha1": {"distance": 3}})
    with pytest.raises(InvalidInput, match="cannot set colour"):
        core.banks.create("b", colour="red")
    with pytest.raises(InvalidInput, match="quality"):
        core.banks.update("a", pdq_min_quality=101)
    with pytest.raises(NotFound):
        core.banks.delete("nope")
    core.banks.create("b")
    with pytest.raises(Conflict):
        core.banks.update("a", name="b")


@pytest.mark.parametrize(
    ("quality", "seconds", "says"),
    [(2**40, None, "quality"), (-1, None, "quality"), (None, float("inf"), "seconds"),
     (None, float("nan"), "seconds"), (None, -1.0, "seconds")],
)  # fmt: skip
def test_hash_quality_and_frame_time_are_checked(
    core: Lykta, quality: int | None, seconds: float | None, says: str
) -> None:
    core.banks.create("a")
    item = ContentItem((ItemHash("pdq", PDQ, quality, seconds),), "clip")
    with pytest.raises(InvalidInput, match=says):
        core.banks.add_content("a", [item])
    assert core.banks.get("a").content_count == 0


def test_a_kind_is_stored_under_its_registered_name(core: Lykta) -> None:
    core.banks.create("a")
    [content_id] = core.banks.add_content("a", [ContentItem((ItemHash(" PDQ", PDQ),))]).content_ids
    assert core.banks.stored_kinds() == ["pdq"]
    assert [m.content_id for m in core.lookup_hash("pdq", PDQ).matches] == [content_id]


def test_concurrent_threshold_updates_both_land(
    core: Lykta, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lykta.banks import service

    core.banks.create("a")
    real = service.threshold_changes
    other = threading.Thread(target=core.banks.update, args=("a",), kwargs={"pdq_distance": 10})

    def racing(fields: dict[str, object], current: Mapping[str, Threshold]) -> object:
        if not other.is_alive() and other.ident is None:
            # Another curator changes the distance while this update has read the rules.
            other.start()
            other.join(1)
        return real(fields, current)

    monkeypatch.setattr(service, "threshold_changes", racing)
    core.banks.update("a", pdq_min_quality=70)
    other.join(60)
    rule = core.banks.get("a").thresholds["pdq"]
    assert (rule.distance, rule.min_quality) == (10, 70)


def test_import_is_one_transaction(core: Lykta) -> None:
    core.banks.create("a")
    text = f"{PDQ}\n{flip_bits(PDQ, 40)}\nnot-a-hash\n"
    with pytest.raises(InvalidInput, match=r"list.txt:3: .*nothing imported"):
        core.banks.import_parsed(
            "a", get_format("text").parse(io.StringIO(text), "pdq"), source="list.txt"
        )
    assert core.banks.get("a").content_count == 0
    assert core.lookup_hash("pdq", PDQ).matches == []
    summary = core.banks.import_parsed(
        "a",
        get_format("text").parse(io.StringIO(text), "pdq"),
        source="list.txt",
        skip_invalid=True,
    )
    assert (summary.added, summary.duplicates, [e.line for e in summary.skipped]) == (2, 0, [3])
    assert summary.content_ids == []  # a file's items are not listed back one by one
    again = core.banks.import_parsed("a", get_format("text").parse(io.StringIO(text), "pdq"),
                                     source="list.txt", skip_invalid=True)  # fmt: skip
    assert (again.added, again.duplicates) == (0, 2)


def test_import_into_missing_bank(core: Lykta) -> None:
    with pytest.raises(NotFound):
        core.banks.import_parsed("nope", iter([ContentItem.of_hash("pdq", PDQ)]), source="x")


def test_lookup_by_hash_distance_and_threshold(core: Lykta) -> None:
    core.banks.create("a", pdq_distance=31)
    core.banks.add_content("a", [ContentItem.of_hash("pdq", PDQ, "img-1", ("csam-a1",))])
    near, far = flip_bits(PDQ, 20), flip_bits(PDQ, 40)
    [match] = core.lookup_hash("pdq", near).matches
    assert (match.bank, match.external_id, match.labels, match.distance) == (
        "a",
        "img-1",
        ("csam-a1",),
        20,
    )
    assert core.lookup_hash("pdq", far).matches == []
    core.banks.update("a", pdq_distance=10)
    assert core.lookup_hash("pdq", near).matches == []
    core.banks.update("a", pdq_distance=45)
    assert [m.distance for m in core.lookup_hash("pdq", far).matches] == [40]


def test_quality_threshold_applies_to_queries_with_quality(core: Lykta) -> None:
    core.banks.create("a", pdq_min_quality=60)
    core.banks.add_content("a", [ContentItem.of_hash("pdq", PDQ)])
    assert core.lookup_hash("pdq", PDQ, quality=59).matches == []
    assert len(core.lookup_hash("pdq", PDQ, quality=60).matches) == 1


def test_disable_and_delete_take_effect_on_next_lookup(core: Lykta) -> None:
    core.banks.create("a")
    core.banks.add_content("a", [ContentItem.of_hash("pdq", PDQ), ContentItem.of_hash("md5", MD5)])
    assert len(core.lookup_hash("md5", MD5).matches) == 1
    core.banks.update("a", enabled=False)
    assert core.lookup_hash("pdq", PDQ).matches == []
    core.banks.update("a", enabled=True)
    [content] = [c for c in core.banks.list_content("a") if c.item.hashes[0].kind == "pdq"]
    core.banks.remove_content("a", [content.id])
    assert core.lookup_hash("pdq", PDQ).matches == []
    assert core.matcher.size()["pdq"] == 0
    with pytest.raises(NotFound):
        core.banks.remove_content("a", [content.id])


def test_negative_bank_suppresses(core: Lykta) -> None:
    core.banks.create("known")
    core.banks.create("false-positives", negative=True, pdq_distance=10)
    core.banks.add_content("known", [ContentItem.of_hash("pdq", PDQ)])
    core.banks.add_content("false-positives", [ContentItem.of_hash("pdq", flip_bits(PDQ, 2))])
    result = core.lookup_hash("pdq", PDQ)
    assert result.matches == []
    assert [m.bank for m in result.suppressed_by] == ["false-positives"]
    # Outside the negative bank's own distance, it does not suppress.
    result = core.lookup_hash("pdq", flip_bits(PDQ, 25))
    assert [m.bank for m in result.matches] == ["known"]


def test_lookup_in_named_banks_only(core: Lykta) -> None:
    core.banks.create("a")
    core.banks.create("b")
    core.banks.add_content("a", [ContentItem.of_hash("pdq", PDQ, "in-a")])
    core.banks.add_content("b", [ContentItem.of_hash("pdq", PDQ, "in-b")])
    assert {m.external_id for m in core.lookup_hash("pdq", PDQ).matches} == {"in-a", "in-b"}
    assert [m.external_id for m in core.lookup_hash("pdq", PDQ, banks=["b"]).matches] == ["in-b"]


def test_delete_bank_removes_its_hashes_from_the_index(core: Lykta) -> None:
    core.banks.create("a")
    core.banks.add_content("a", [ContentItem.of_hash("pdq", PDQ), ContentItem.of_hash("md5", MD5)])
    core.banks.delete("a")
    assert core.matcher.size() == {"pdq": 0, "md5": 0, "sha256": 0, "orb": 0}
    core.banks.create("a")
    core.banks.add_content("a", [ContentItem.of_hash("pdq", PDQ)])
    assert len(core.lookup_hash("pdq", PDQ).matches) == 1


def test_export_streams_every_hash(core: Lykta) -> None:
    core.banks.create("a")
    rows = [ContentItem.of_hash("pdq", flip_bits(PDQ, k), f"id-{k}", ("x",)) for k in range(30)]
    core.banks.add_content("a", rows)
    exported = list(core.banks.export("a", batch=7))
    assert [(r.hashes, r.external_id, r.labels) for r in exported] == [
        (r.hashes, r.external_id, r.labels) for r in rows
    ]


def test_photo_lookup_matches_mirrored_copy(core: Lykta, photo: bytes) -> None:
    from PIL import Image, ImageOps

    core.banks.create("a")
    hashes = core.hash_photo(photo, dihedral=False, trim=False)
    core.banks.add_content("a", [ContentItem.of_hash("pdq", hashes.pdq, "orig")])
    mirrored = io.BytesIO()
    ImageOps.mirror(Image.open(io.BytesIO(photo))).save(mirrored, "JPEG", quality=90)
    found = core.lookup_photo(mirrored.getvalue())
    assert found.result.matches and found.result.matches[0].transform == "mirror"
    assert core.lookup_photo(mirrored.getvalue(), dihedral=False).result.matches == []


def test_adding_to_a_big_bank_probes_only_the_new_hashes(core: Lykta) -> None:
    core.banks.create("a")
    many = [ContentItem.of_hash("pdq", f"{value:064x}") for value in range(1, 41)]
    core.banks.add_content("a", many)
    summary = core.banks.add_content(
        "a", [many[3], ContentItem.of_hash("pdq", PDQ), ContentItem.of_hash("pdq", PDQ)]
    )
    assert (summary.added, summary.duplicates) == (1, 2)
    ids = {c.item.hashes[0].value: c.id for c in core.banks.list_content("a", limit=100)}
    assert summary.content_ids == [ids[many[3].hashes[0].value], ids[PDQ], ids[PDQ]]


def test_labels_and_descriptions_have_size_limits(core: Lykta) -> None:
    with pytest.raises(InvalidInput, match="description is longer than 4096 characters"):
        core.banks.create("a", description="x" * 4097)
    core.banks.create("a", description="x" * 4096, source="s" * 4096, licence="l" * 4096)
    with pytest.raises(InvalidInput, match="licence is longer than 4096"):
        core.banks.update("a", licence="x" * 10_000_000)
    with pytest.raises(InvalidInput, match="longer than 256 characters"):
        core.banks.add_content("a", [ContentItem.of_hash("pdq", PDQ, None, ("x" * 257,))])
    with pytest.raises(InvalidInput, match=r"too many labels \(65; at most 64\)"):
        core.banks.add_content("a", [ContentItem.of_hash("pdq", PDQ, None, map(str, range(65)))])
    most = tuple(str(n) * 256 for n in range(10)) + tuple(map(str, range(54)))
    assert core.banks.add_content("a", [ContentItem.of_hash("pdq", PDQ, None, most)]).added == 1


def test_update_returns_the_bank_with_its_content_count(core: Lykta) -> None:
    core.banks.create("a")
    core.banks.add_content("a", [ContentItem.of_hash("pdq", PDQ), ContentItem.of_hash("md5", MD5)])
    updated = core.banks.update("a", name="b", pdq_distance=20)
    assert (updated.name, updated.thresholds["pdq"].distance, updated.content_count) == ("b", 20, 2)
    assert updated == core.banks.get("b")


def test_content_notes_and_switch_are_stored_and_checked(core: Lykta) -> None:
    core.banks.create("b")
    item = ContentItem.of_hash("md5", "d41d8cd98f00b204e9800998ecf8427e")
    item.note = "from report 7"
    [content_id] = core.banks.add_content("b", [item]).content_ids
    assert core.banks.get_content("b", content_id).note == "from report 7"
    assert core.banks.get_content("b", content_id).disable_until_ts is None
    bad_note = ContentItem.of_hash("md5", "0" * 32)
    bad_note.note = "nul\x00"
    with pytest.raises(InvalidInput):
        core.banks.add_content("b", [bad_note])
    with pytest.raises(InvalidInput):
        core.banks.update_content("b", content_id, labels=["x"])
    with pytest.raises(NotFound):
        core.banks.update_content("b", content_id + 1, note="x")
    core.banks.update_content("b", content_id, note=None)
    assert core.banks.get_content("b", content_id).note is None
