"""Tests for lykta.index.local_features: rows and codes, grouping rows back into photos,
versions, snapshots."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
from tests.hashing.imagegen import cropped, make_textured_photo, rotated

from lykta.hashing.local_features import OrbHasher, features_of
from lykta.index.local_features import MIN_INLIERS, Chunk, LocalFeatureIndex, LocalFeatures


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


def test_merge_builds_what_queries_read_off_the_look_up_path() -> None:
    index = LocalFeatureIndex()
    assert not index.needs_merge()
    rows = features(3).to_chunks()
    index.add(np.arange(10), np.frombuffer(b"".join(rows), np.uint8).reshape(10, -1))
    assert index.needs_merge()
    index.merge()
    assert not index.needs_merge()
    copy = index.copy()
    copy.remove(np.array([0]))
    assert copy.needs_merge() and not index.needs_merge()
