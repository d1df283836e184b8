"""The local-features index's candidate search (a numba kernel) against the numpy search
it replaced, kept here as the reference: same candidates, in the same order, through any
history of adds, removals, merges, copies and snapshots."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lykta.index import local_features
from lykta.index.local_features import (
    CHUNK_BYTES,
    MAX_CANDIDATES,
    MIN_INLIERS,
    MIN_VOTES,
    SIGNATURE_DISTANCE,
    SPLIT_MASK,
    STOP_FACTOR,
    STOP_MINIMUM,
    LocalFeatureIndex,
    LocalFeatures,
)
from lykta.index.visual_words import WORDS, vocabulary

_POPCOUNT16 = (
    np.unpackbits(np.arange(65536, dtype="<u2").view(np.uint8))
    .reshape(-1, 16)
    .sum(axis=1, dtype=np.uint8)
)


def reference_candidates(index: LocalFeatureIndex, query: LocalFeatures) -> list[int]:
    """The numpy candidate search as it was before the kernel (with the split bits since
    added to the signature filter): every posting of every query keypoint's word
    materialised, filtered, and votes counted by sorting."""
    if len(query) < MIN_INLIERS or not index._segments:
        return []
    words = vocabulary().words(query.descriptors)
    signatures = local_features._signatures(query.descriptors)
    voters, groups = [], []
    for segment, ids in index._segments:
        low = segment.word_start[words]
        counts = segment.word_start[words + 1] - low
        full = max(STOP_MINIMUM, STOP_FACTOR * segment.posting_slots.shape[0] // WORDS)
        counts = np.where(counts <= full, counts, 0)
        total = int(counts.sum())
        keypoint = np.repeat(np.arange(len(words)), counts)
        at = np.repeat(low - (np.cumsum(counts) - counts), counts) + np.arange(total)
        differ = segment.posting_signatures[at] ^ signatures[keypoint]
        close = _POPCOUNT16[differ & 0xFFFF] + _POPCOUNT16[differ >> 16] <= SIGNATURE_DISTANCE
        close &= (differ & SPLIT_MASK) == 0
        keypoint, slot = keypoint[close], segment.posting_slots[at[close]].astype(np.int64)
        if ids.n_dead:
            alive = ~ids.is_dead(slot)
            keypoint, slot = keypoint[alive], slot[alive]
        voters.append(keypoint)
        groups.append(segment.groups[slot])
    group_of, keypoint_of = np.concatenate(groups), np.concatenate(voters)
    if not group_of.size:
        return []
    order = np.lexsort((keypoint_of, group_of))
    group_of, keypoint_of = group_of[order], keypoint_of[order]
    ballot = np.ones(group_of.size, bool)
    ballot[1:] = (group_of[1:] != group_of[:-1]) | (keypoint_of[1:] != keypoint_of[:-1])
    group_of = group_of[ballot]
    starts = np.flatnonzero(np.r_[True, group_of[1:] != group_of[:-1]])
    votes = np.diff(np.r_[starts, group_of.size])
    keys = group_of[starts]
    best = np.lexsort((keys, -votes))[:MAX_CANDIDATES]
    return [int(keys[n]) for n in best if votes[n] >= MIN_VOTES]


def flipped(rng: np.random.Generator, descriptor: np.ndarray) -> np.ndarray:
    """A copy with a few bits flipped, some in the signature (the first 32 bits), so
    signature distances land on both sides of ``SIGNATURE_DISTANCE``."""
    bits = np.unpackbits(descriptor)
    bits[rng.choice(32, int(rng.integers(0, 13)), replace=False)] ^= 1
    bits[32 + rng.choice(224, int(rng.integers(0, 6)), replace=False)] ^= 1
    return np.packbits(bits)


def photo(rng: np.random.Generator, pool: np.ndarray, count: int) -> LocalFeatures:
    """Keypoints drawn from a small shared pool (so photos share words and votes), some
    drawn twice in one photo (so one keypoint finds several postings of a photo), and the
    first two pool entries far more often and unchanged (so their words, which vote for
    nearly every photo, pass the stop-word limit after a few photos)."""
    weights = np.ones(len(pool))
    weights[:2] = len(pool) / 4
    chosen = rng.choice(len(pool), count, p=weights / weights.sum())
    descriptors = (
        np.stack([pool[n] if n < 2 else flipped(rng, pool[n]) for n in chosen])
        if count
        else pool[:0]
    )
    points = rng.uniform(0, 600, (count, 2)).astype(np.float32)
    return LocalFeatures(points, descriptors, 640, 480)


def rows_of(features: LocalFeatures) -> np.ndarray:
    return np.frombuffer(b"".join(features.to_chunks()), np.uint8).reshape(-1, CHUNK_BYTES)


OPS = st.lists(
    st.sampled_from(
        ["add", "add", "add", "add split", "add again", "remove", "copy", "merge", "reload"]
    ),
    min_size=1,
    max_size=14,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    ops=OPS,
    delta_rows=st.sampled_from([1, 4, 5_000]),
    pool_size=st.sampled_from([40, 150]),
)
def test_the_kernel_finds_the_candidates_the_numpy_search_did(
    seed: int, ops: list[str], delta_rows: int, pool_size: int
) -> None:
    rng = np.random.default_rng(seed)
    pool = rng.integers(0, 256, (pool_size, 32), dtype=np.uint8)
    index = LocalFeatureIndex()
    banked: list[tuple[LocalFeatures, list[int]]] = []  # each photo added, with its row ids
    versions: list[LocalFeatureIndex] = []
    next_id = 0

    def check(version: LocalFeatureIndex) -> None:
        queries = [photo(rng, pool, int(rng.integers(MIN_INLIERS, 200))) for _ in range(3)]
        queries += [features for features, _ in banked[-2:]]
        for query in queries:
            assert version._candidates(query) == reference_candidates(version, query)

    with (
        pytest.MonkeyPatch.context() as patch,
        tempfile.TemporaryDirectory() as folder,
    ):
        # Small segments, so a photo's rows and its copies land in several of them.
        patch.setattr(local_features, "DELTA_ROWS", delta_rows)
        for op in ops:
            if op in ("add", "add split") or (op == "add again" and not banked):
                features = photo(rng, pool, int(rng.integers(0, 160)))
            elif op == "add again":  # the same photo in another bank: the same group key
                features = banked[int(rng.integers(len(banked)))][0]
            if op.startswith("add"):
                rows = rows_of(features)
                ids = list(range(next_id, next_id + len(rows)))
                next_id += len(rows)
                cut = int(rng.integers(1, len(rows))) if op == "add split" and len(rows) > 1 else 0
                for part in (slice(0, cut), slice(cut, None)):
                    if ids[part]:
                        index.add(np.array(ids[part]), rows[part])
                banked.append((features, ids))
            elif op == "remove" and banked:
                _, ids = banked[int(rng.integers(len(banked)))]
                index.remove(np.array(ids[: int(rng.integers(1, len(ids) + 1))]))
            elif op == "copy":
                versions.append(index)
                index = index.copy()
            elif op == "merge":
                index.merge()
            elif op == "reload":
                index.save(Path(folder) / "orb")
                index = LocalFeatureIndex.load(Path(folder) / "orb")
            check(index)
        for version in versions:
            check(version)


def test_a_photo_in_two_segments_gets_one_vote_per_query_keypoint() -> None:
    """A photo banked twice, and one whose rows were added in two batches, sit in two
    segments each: a query keypoint close to both halves, or to both copies, still votes
    once, which decides the order and what reaches ``MIN_VOTES``."""
    rng = np.random.default_rng(7)
    query = LocalFeatures(
        rng.uniform(0, 600, (100, 2)).astype(np.float32),
        rng.integers(0, 256, (100, 32), dtype=np.uint8),
        640,
        480,
    )

    def holding(keypoints: slice, times: int) -> LocalFeatures:
        """A photo with the query's ``keypoints`` ``times`` over, then unrelated ones."""
        shared = np.tile(query.descriptors[keypoints], (times, 1))
        other = rng.integers(0, 256, (100 - len(shared), 32), dtype=np.uint8)
        points = rng.uniform(0, 600, (100, 2)).astype(np.float32)
        return LocalFeatures(points, np.concatenate([shared, other]), 640, 480)

    most = holding(slice(0, 60), 1)  # 60 votes, in one segment
    banked_twice = holding(slice(0, 55), 1)  # 55 votes, in two banks
    split = holding(slice(0, 50), 2)  # 50 votes, both rows hold them, added one by one
    few = holding(slice(60, 65), 20)  # 5 votes (below MIN_VOTES), in both rows
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(local_features, "DELTA_ROWS", 1)  # each add its own segment
        index = LocalFeatureIndex()
        index.add(np.arange(0, 2), rows_of(most))
        index.add(np.arange(10, 12), rows_of(banked_twice))
        for n, (split_row, few_row) in enumerate(zip(rows_of(split), rows_of(few), strict=True)):
            index.add(np.array([20 + n, 30 + n]), np.stack([split_row, few_row]))
        index.add(np.arange(40, 42), rows_of(banked_twice))
    assert len(index.segment_rows) == 5
    assert index.candidates(query) == [0, 10, 20]  # a double count would put them first
    assert index._candidates(query) == reference_candidates(index, query)
    index.merge()  # each photo's rows side by side in one segment: the same answer
    assert index.candidates(query) == [0, 10, 20]


@pytest.mark.parametrize("older", [2, 3])
def test_an_older_snapshot_is_refused_with_a_clear_message(tmp_path: Path, older: int) -> None:
    """Format 2 snapshots lack each row's photo number, format 3 ones the word lists'
    split: the matcher rebuilds them from the database."""
    rng = np.random.default_rng(3)
    index = LocalFeatureIndex()
    index.add(np.arange(2), rows_of(photo(rng, rng.integers(0, 256, (40, 32), np.uint8), 80)))
    index.save(tmp_path / "orb")
    meta = tmp_path / "orb" / "meta.json"
    meta.write_text(meta.read_text().replace('"version": 4', f'"version": {older}'))
    with pytest.raises(ValueError, match="delete the snapshot so it is rebuilt"):
        LocalFeatureIndex.load(tmp_path / "orb")
