"""Tests for lykta.index.local_features: rows and codes, grouping rows back into photos,
the inverted index against brute force, incremental adds and removals, versions,
snapshots."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from tests.hashing.imagegen import cropped, make_textured_photo, overlaid, rotated, screenshot
from tests.hashing.test_local_features import _lattices, of_query

from lykta.hashing.local_features import OrbHasher, features_of
from lykta.index import local_features
from lykta.index.local_features import (
    MIN_INLIERS,
    Chunk,
    LocalFeatureIndex,
    LocalFeatures,
    Verified,
    verify,
)


@cache
def features(seed: int) -> LocalFeatures:
    return features_of(make_textured_photo(seed=seed))


def test_the_index_finds_the_edited_photo_among_others() -> None:
    index = LocalFeatureIndex()
    first_rows = {}
    for seed in range(8):
        rows = features(seed).to_chunks()
        ids = np.arange(len(rows)) + 100 * seed
        index.add(ids, np.frombuffer(b"".join(rows), np.uint8).reshape(len(rows), -1))
        first_rows[seed] = int(ids[0])
    edited = rotated(cropped(make_textured_photo(seed=5), 0.1, 5), 4)
    query = np.frombuffer(features_of(edited).to_code(), np.uint8)
    [found] = index.query(query[None])
    assert [hash_id for hash_id, _ in found] == [first_rows[5]]
    assert found[0][1] >= MIN_INLIERS
    # Rows travel and go one by one; a photo whose rows are all gone is no longer found.
    copy = index.copy()
    copy.remove(np.arange(100 * 5, 100 * 5 + 10))
    assert copy.query(query[None]) == [[]]
    assert index.query(query[None]) == [found]


def test_codes_and_rows_round_trip(tmp_path: Path) -> None:
    original = features(2)
    rows = original.to_chunks()
    assert len(rows) == 10 and len(set(rows)) == 10
    assert all(len(row) == OrbHasher.code_bytes for row in rows)
    for again in (
        LocalFeatures.from_code(original.to_code()),
        LocalFeatures.from_chunks([Chunk.from_row(row) for row in reversed(rows)]),
    ):
        assert len(again) == len(original)
        assert np.array_equal(again.descriptors, original.descriptors)
        assert np.abs(again.points - original.points).max() <= 0.125
        assert (again.width, again.height) == (original.width, original.height)
    index = LocalFeatureIndex()
    index.add(np.arange(10), np.frombuffer(b"".join(rows), np.uint8).reshape(10, -1))
    index.save(tmp_path / "orb")
    loaded = LocalFeatureIndex.load(tmp_path / "orb")
    query = np.frombuffer(original.to_code(), np.uint8)[None]
    assert len(loaded) == 10 and loaded.query(query) == index.query(query)
    assert index.query(query)[0][0][0] == 0


def rows_of(seed: int) -> np.ndarray:
    return _rows(features(seed))


def bank(index: LocalFeatureIndex, seed: int, first_id: int) -> list[int]:
    ids = list(range(first_id, first_id + 10))
    index.add(np.array(ids), rows_of(seed))
    return ids


BANKED = range(10)


@cache
def bank_of_ten() -> LocalFeatureIndex:
    """Ten photos, the one of seed 3 twice (in two banks); never changed by a test."""
    index = LocalFeatureIndex()
    for seed in BANKED:
        bank(index, seed, 100 * seed)
    bank(index, 3, 5000)
    return index


EDITS: dict[str, Callable[[Image.Image, int], Image.Image]] = {
    "crop": lambda image, k: cropped(image, 0.05 + 0.01 * k, k),
    "rotation": lambda image, k: rotated(image, (3 + k % 4) * (-1) ** k),
    "overlay": lambda image, k: overlaid(image, k),
    "crop and rotation": lambda image, k: rotated(cropped(image, 0.08, k), 4),
}


def brute_force(index: LocalFeatureIndex, query: LocalFeatures) -> dict[int, Verified]:
    """What verifying the query against every banked photo finds."""
    found: dict[int, Verified] = {}
    for banked, first_rows in index.photos():
        verified = verify(query, banked)
        if verified is not None:
            found.update(dict.fromkeys(first_rows, verified))
    return found


@settings(max_examples=16, deadline=None)
@given(
    seed=st.sampled_from([*BANKED, 1000, 1001, 1002]),
    edit=st.sampled_from(sorted(EDITS)),
    strength=st.integers(0, 9),
)
def test_the_index_verifies_what_brute_force_verification_does(
    seed: int, edit: str, strength: int
) -> None:
    index = bank_of_ten()
    query = features_of(EDITS[edit](make_textured_photo(seed=seed), strength))
    found = index.verified(query)
    assert found == brute_force(index, query)
    # Every edited copy is found (both copies of seed 3); an unrelated photo never is.
    expected = {100 * seed, 5000} if seed == 3 else {100 * seed} if seed in BANKED else set()
    assert set(found) == expected


def test_photos_are_added_and_removed_without_rebuilding_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(local_features, "DELTA_ROWS", 10)  # each photo its own segment
    index = LocalFeatureIndex()
    ids = {seed: bank(index, seed, 100 * seed) for seed in range(4)}
    queries = {seed: features_of(EDITS["crop"](make_textured_photo(seed=seed), 3)) for seed in ids}
    assert index.segment_rows == [10, 10, 10, 10] and index.needs_merge()
    before = {seed: index.verified(query) for seed, query in queries.items()}
    assert all(set(found) == {ids[seed][0]} for seed, found in before.items())
    published = index.copy()
    index.merge()  # joined as a binary counter: one segment of 40
    assert index.segment_rows == [40] and not index.needs_merge()
    assert {seed: index.verified(query) for seed, query in queries.items()} == before
    # A new photo is a segment of its own: the one of 40 is left as it is.
    ids[4] = bank(index, 4, 400)
    assert index.segment_rows == [40, 10] and not index.needs_merge()
    query = features_of(EDITS["rotation"](make_textured_photo(seed=4), 2))
    assert set(index.verified(query)) == {400}
    # A removal is tombstones until the share removed asks for a compaction.
    assert index.remove(np.array(ids[1] + [99_999])) == 10
    assert index.verified(queries[1]) == {} and len(index) == 40
    assert set(published.verified(queries[1])) == {100}  # an older version is untouched
    assert index.needs_merge()
    rows_before = index.rows_nbytes
    index.merge()
    assert index.rows_nbytes == rows_before - 10 * OrbHasher.code_bytes
    assert index.verified(queries[1]) == {}
    for seed in (0, 2, 3):
        assert index.verified(queries[seed]) == before[seed]
    with pytest.raises(ValueError, match="duplicate id"):
        index.add(np.array([400]), rows_of(4)[:1])


def test_a_snapshot_maps_the_postings_and_keeps_tombstones(tmp_path: Path) -> None:
    index = LocalFeatureIndex()
    ids = {seed: bank(index, seed, 100 * seed) for seed in range(3)}
    index.remove(np.array(ids[1]))
    index.save(tmp_path / "orb")
    loaded = LocalFeatureIndex.load(tmp_path / "orb")
    assert len(loaded) == 20 and loaded.segment_rows == index.segment_rows
    assert loaded.retrieval_nbytes == index.retrieval_nbytes
    for seed in range(3):
        query = features_of(EDITS["overlay"](make_textured_photo(seed=seed), seed))
        assert loaded.verified(query) == index.verified(query)
        assert bool(loaded.verified(query)) == (seed != 1)
    assert loaded.mapped


def test_unrelated_photos_and_lattices_match_nothing_through_the_index() -> None:
    """The guard test's distractors (tests/hashing/test_local_features.py), looked up
    through the index over twelve photos and a lattice: no candidate verifies."""
    index = LocalFeatureIndex()
    for seed in range(12):
        bank(index, seed, 100 * seed)
    checks, grid, dots = (features_of(pattern) for pattern in _lattices())
    index.add(np.arange(5000, 5000 + len(_rows(checks))), _rows(checks))
    queries = [of_query(make_textured_photo(seed=seed)) for seed in range(100, 112)]
    queries += [of_query(cropped(make_textured_photo(seed=s), 0.1, s)) for s in range(112, 118)]
    queries += [of_query(screenshot(make_textured_photo(seed=s), s)) for s in range(118, 122)]
    queries += [dots, grid]
    for query in queries:
        assert index.verified(query) == {} == brute_force(index, query)


def _rows(features: LocalFeatures) -> np.ndarray:
    rows = features.to_chunks()
    return np.frombuffer(b"".join(rows), np.uint8).reshape(len(rows), -1)
