"""ExactIndex returns exactly the ids holding each key, through any history."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lykta.index import ExactIndex, HammingIndex, HashIndex


def reference(model: dict[int, bytes], queries: np.ndarray) -> list[list[tuple[int, int]]]:
    return [sorted((i, 0) for i, key in model.items() if key == q.tobytes()) for q in queries]


OPS = st.lists(
    st.tuples(
        st.sampled_from(["add", "add", "remove", "query", "reload", "copy", "merge"]),
        st.integers(1, 30),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    ops=OPS,
    key_bytes=st.sampled_from([16, 32, 20]),
    delta_limit=st.sampled_from([0, 5, 32_768]),
)
def test_matches_reference_through_any_history(
    seed: int, ops: list[tuple[str, int]], key_bytes: int, delta_limit: int
) -> None:
    rng = np.random.default_rng(seed)
    index = ExactIndex(key_bytes, delta_limit=delta_limit)
    model: dict[int, bytes] = {}
    removed: list[int] = []
    # A tiny key space makes shared keys (several ids on one key) common.
    pool = rng.integers(0, 256, (12, key_bytes), dtype=np.uint8)
    # Copies taken along the way, with what each held: later changes must not reach them.
    versions: list[tuple[ExactIndex, dict[int, bytes]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for op, size in ops:
            if op == "add":
                ids = [
                    removed.pop() if removed and rng.random() < 0.3 else int(rng.integers(0, 10**9))
                    for _ in range(size)
                ]
                ids = [i for i in dict.fromkeys(ids) if i not in model]
                keys = pool[rng.integers(0, len(pool), len(ids))]
                index.add(np.array(ids, dtype=np.int64), keys)
                model.update((i, k.tobytes()) for i, k in zip(ids, keys, strict=True))
            elif op == "remove":
                known = list(model)
                chosen = [known[i] for i in rng.integers(0, len(known), size)] if known else []
                assert index.remove(np.array([*chosen, -5], dtype=np.int64)) == len(set(chosen))
                for i in set(chosen):
                    del model[i]
                    removed.append(i)
            elif op == "query":
                queries = np.concatenate([pool, rng.integers(0, 256, (2, key_bytes), np.uint8)])
                assert index.query(queries, size) == reference(model, queries)
                for old, old_model in versions:
                    assert old.query(pool, 0) == reference(old_model, pool)
            elif op == "copy":
                versions.append((index, dict(model)))
                index = index.copy()
            elif op == "merge":
                index.merge()
                assert not index.needs_merge()
            else:
                index.save(Path(tmp) / "index")
                index = ExactIndex.load(Path(tmp) / "index", delta_limit=delta_limit)
                assert index.code_bytes == key_bytes
            if op in ("add", "remove") and index.needs_merge() and rng.random() < 0.7:
                index.merge()
            assert len(index) == len(model)
        assert index.query(pool, 0) == reference(model, pool)
        for old, old_model in versions:
            assert old.query(pool, 0) == reference(old_model, pool)
            assert len(old) == len(old_model)


def test_large_index_finds_every_key() -> None:
    rng = np.random.default_rng(7)
    keys = rng.integers(0, 256, (200_000, 16), dtype=np.uint8)
    ids = rng.permutation(200_000).astype(np.int64)
    index = ExactIndex(16)
    index.add(ids, keys)
    index.merge()
    picks = rng.integers(0, 200_000, 500)
    assert index.query(keys[picks], 0) == [[(int(ids[p]), 0)] for p in picks]
    assert index.query(rng.integers(0, 256, (50, 16), dtype=np.uint8), 0) == [[]] * 50
    assert index.remove(ids[picks[:10]]) == len(set(picks[:10].tolist()))
    assert index.query(keys[picks[:10]], 0) == [[]] * 10
    assert index.nbytes < 200_000 * 28


def test_interface_edges_and_errors(tmp_path: Path) -> None:
    index = ExactIndex(32)
    assert isinstance(index, HashIndex)
    assert index.code_bytes == 32
    assert index.query(np.zeros((0, 32), dtype=np.uint8), 0) == []
    assert index.query(np.zeros(32, dtype=np.uint8), 0) == [[]]
    assert index.remove(np.array([1], dtype=np.int64)) == 0
    key = np.full(32, 7, dtype=np.uint8)
    index.add(np.array([2, 1], dtype=np.int64), np.stack([key, key]))
    assert index.query(key, 31) == [[(1, 0), (2, 0)]]  # exact: the distance is ignored
    with pytest.raises(ValueError, match="already in the index"):
        index.add(np.array([1], dtype=np.int64), key[None])
    with pytest.raises(ValueError, match="more than once"):
        index.add(np.array([8, 8], dtype=np.int64), np.stack([key, key]))
    with pytest.raises(ValueError):
        index.add(np.array([9], dtype=np.int64), np.zeros((1, 16), dtype=np.uint8))
    with pytest.raises(ValueError):
        index.add(np.array([9], dtype=np.int64), np.zeros((1, 32), dtype=np.int32))
    with pytest.raises(ValueError):
        ExactIndex(0)
    index.save(tmp_path / "exact")
    with pytest.raises(ValueError, match=r"lykta\.exact"):
        HammingIndex.load(tmp_path / "exact")


def test_add_and_remove_never_merge_and_copies_are_isolated() -> None:
    rng = np.random.default_rng(8)
    keys = rng.integers(0, 256, (100, 16), dtype=np.uint8)
    original = ExactIndex(16, delta_limit=10)
    original.add(np.arange(100, dtype=np.int64), keys)
    assert original.needs_merge() and original._keys.shape[0] == 0
    original.merge()
    assert not original.needs_merge() and original._keys.shape[0] == 100
    version = original.copy()
    assert version._keys is original._keys and version._main.dead is original._main.dead
    assert version.remove(np.arange(20, dtype=np.int64)) == 20
    assert version.needs_merge()
    version.add(np.array([500], dtype=np.int64), keys[:1])
    version.merge()
    assert original.query(keys[:2], 0) == [[(0, 0)], [(1, 0)]]
    assert version.query(keys[:2], 0) == [[(500, 0)], []]
    assert (len(original), len(version)) == (100, 81)
