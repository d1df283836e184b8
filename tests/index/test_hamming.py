"""HammingIndex returns exactly what a brute-force scan returns, through any history."""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lykta.index import HammingIndex, HashIndex, hamming
from lykta.index.hamming import LAYOUT, MIN_DIR_BITS, TABLE_MAX_DISTANCE, Layout


def brute_force(
    model: dict[int, np.ndarray], queries: np.ndarray, max_distance: int
) -> list[list[tuple[int, int]]]:
    if not model:
        return [[] for _ in queries]
    ids = np.fromiter(model, dtype=np.int64, count=len(model))
    codes = np.stack([model[i] for i in ids.tolist()])
    out = []
    for q in queries:
        dist = np.bitwise_count(codes ^ q).sum(axis=1)
        hit = dist <= max_distance
        order = np.lexsort((ids[hit], dist[hit]))
        out.append(list(zip(ids[hit][order].tolist(), dist[hit][order].tolist(), strict=True)))
    return out


def flip(rng: np.random.Generator, code: np.ndarray, k: int) -> np.ndarray:
    bits = np.unpackbits(code)
    bits[rng.choice(256, k, replace=False)] ^= 1
    return np.packbits(bits)


def near_codes(
    rng: np.random.Generator, model: dict[int, np.ndarray], count: int, max_flip: int
) -> np.ndarray:
    """Half random codes, half copies of indexed codes with up to ``max_flip`` bits flipped."""
    rows = []
    pool = list(model.values())
    for _ in range(count):
        if pool and rng.random() < 0.5:
            rows.append(flip(rng, pool[rng.integers(len(pool))], int(rng.integers(max_flip + 1))))
        else:
            rows.append(rng.integers(0, 256, 32, dtype=np.uint8))
    return np.stack(rows) if rows else np.zeros((0, 32), dtype=np.uint8)


OPS = st.lists(
    st.tuples(
        st.sampled_from(["add", "add", "remove", "query", "reload", "copy", "merge"]),
        st.integers(1, 40),
    ),
    min_size=1,
    max_size=12,
)


@contextmanager
def directory_mode(mode: str) -> Iterator[None]:
    """Run with the default tables, or with ones whose directory covers the whole key.

    The whole-key directory (no stored ``lo``) is what indexes past 33.5M rows use; here
    18-bit substrings give it at a small size, and the width switches at 50 rows so
    merges also cross from one directory width to the other.
    """
    if mode == "default":
        yield
        return
    narrow = Layout(tables=LAYOUT.tables, width=18, radius=LAYOUT.radius)
    with (
        mock.patch.object(hamming, "LAYOUT", narrow),
        mock.patch.object(hamming, "dir_bits", lambda rows: 18 if rows > 50 else MIN_DIR_BITS),
    ):
        yield


def check_versions(
    rng: np.random.Generator, versions: list[tuple[HammingIndex, dict[int, np.ndarray]]]
) -> None:
    """Every published version still answers exactly what it held when it was copied."""
    for old, old_model in versions:
        queries = near_codes(rng, old_model, 3, 40)
        assert old.query(queries, 31) == brute_force(old_model, queries, 31)
        assert len(old) == len(old_model)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    ops=OPS,
    delta_limit=st.sampled_from([0, 7, 32_768]),
    id_space=st.sampled_from(["ascending", "random", "wide"]),
    mode=st.sampled_from(["default", "whole-key directory"]),
)
def test_matches_brute_force_through_any_history(
    seed: int, ops: list[tuple[str, int]], delta_limit: int, id_space: str, mode: str
) -> None:
    rng = np.random.default_rng(seed)
    index = HammingIndex(delta_limit=delta_limit)
    model: dict[int, np.ndarray] = {}
    removed: list[int] = []
    # Copies taken along the way, with what each held: later changes must not reach them.
    versions: list[tuple[HammingIndex, dict[int, np.ndarray]]] = []
    next_id = 0
    with directory_mode(mode), tempfile.TemporaryDirectory() as tmp:
        for op, size in ops:
            if op == "add":
                ids = []
                for _ in range(size):
                    if removed and rng.random() < 0.2:
                        ids.append(removed.pop())  # re-adding a removed id must work
                    elif id_space == "ascending":
                        next_id += int(rng.integers(1, 4))
                        ids.append(next_id)
                    else:
                        high = 2**62 if id_space == "wide" else 10**6
                        ids.append(int(rng.integers(-high if id_space == "wide" else 0, high)))
                ids = [i for i in dict.fromkeys(ids) if i not in model]
                codes = near_codes(rng, model, len(ids), 40)
                index.add(np.array(ids, dtype=np.int64), codes)
                model.update(zip(ids, codes, strict=True))
            elif op == "remove":
                known = list(model)
                chosen = [known[i] for i in rng.integers(0, len(known), size)] if known else []
                unknown = [-(2**63), 10**18]
                expected = len(set(chosen))
                assert index.remove(np.array(chosen + unknown, dtype=np.int64)) == expected
                for i in set(chosen):
                    del model[i]
                    removed.append(i)
            elif op == "query":
                queries = near_codes(rng, model, 6, 40)
                for max_distance in (0, size, size + 24, int(rng.integers(0, 65))):
                    got = index.query(queries, max_distance)
                    assert got == brute_force(model, queries, max_distance)
                check_versions(rng, versions)
            elif op == "copy":
                versions.append((index, dict(model)))
                index = index.copy()
            elif op == "merge":
                index.merge()
                assert not index.needs_merge()
            else:
                index.save(Path(tmp) / "index")
                index = HammingIndex.load(Path(tmp) / "index", delta_limit=delta_limit)
            # The matcher's rule: merge when the index asks for it, never implicitly.
            if op in ("add", "remove") and index.needs_merge() and rng.random() < 0.7:
                index.merge()
            assert len(index) == len(model)
        queries = near_codes(rng, model, 4, 31)
        assert index.query(queries, 31) == brute_force(model, queries, 31)
        check_versions(rng, versions)


def test_large_index_matches_brute_force_at_every_radius_class() -> None:
    rng = np.random.default_rng(2024)
    n = 200_000
    codes = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    ids = rng.permutation(n).astype(np.int64) * 3 + 5
    index = HammingIndex()
    index.add(ids, codes)
    index.merge()
    removed = ids[::50]
    assert index.remove(removed) == removed.size
    extra_ids = np.arange(10**7, 10**7 + 1000, dtype=np.int64)
    extra = codes[:1000].copy()
    index.add(extra_ids, extra)  # stays in the delta: scanned beside the tables
    keep = np.ones(n, dtype=bool)
    keep[::50] = False
    model_ids = np.concatenate([ids[keep], extra_ids])
    model_codes = np.concatenate([codes[keep], extra])
    words = model_codes.view(np.uint64)
    picks = rng.integers(0, n, 100)
    queries = np.stack(
        [flip(rng, codes[p], int(k)) for p, k in zip(picks, rng.integers(0, 41, 100), strict=True)]
        + list(rng.integers(0, 256, (20, 32), dtype=np.uint8))
    )
    # Every radius class of the tables (rho changes at multiples of the table count),
    # the last distance they serve, and the brute-force fallback beyond it.
    m = LAYOUT.tables
    distances = sorted({0, m - 1, m, 2 * m - 1, 2 * m, 31, TABLE_MAX_DISTANCE, 45})
    distances.append(TABLE_MAX_DISTANCE + 1)
    for max_distance in distances:
        got = index.query(queries, max_distance)
        for q, found in zip(queries.view(np.uint64), got, strict=True):
            dist = np.bitwise_count(words ^ q).sum(axis=1)
            hit = np.nonzero(dist <= max_distance)[0]
            order = np.lexsort((model_ids[hit], dist[hit]))
            assert found == list(
                zip(model_ids[hit][order].tolist(), dist[hit][order].tolist(), strict=True)
            )
    assert len(index) == model_ids.size


def test_follows_the_hash_index_interface() -> None:
    assert isinstance(HammingIndex(), HashIndex)


def test_empty_index_and_empty_queries() -> None:
    index = HammingIndex()
    assert len(index) == 0
    assert index.query(np.zeros((3, 32), dtype=np.uint8), 31) == [[], [], []]
    assert index.query(np.zeros((0, 32), dtype=np.uint8), 31) == []
    assert index.remove(np.array([1, 2], dtype=np.int64)) == 0
    index.add(np.zeros(0, dtype=np.int64), np.zeros((0, 32), dtype=np.uint8))
    assert len(index) == 0


def test_single_code_is_one_query_and_distance_ties_sort_by_id() -> None:
    index = HammingIndex()
    code = np.arange(32, dtype=np.uint8)
    index.add(np.array([9, 4, 7], dtype=np.int64), np.stack([code, code, code ^ 1]))
    for _ in ("in the delta", "in the tables"):
        assert index.query(code, 0) == [[(4, 0), (9, 0)]]
        assert index.query(code, 256) == [[(4, 0), (9, 0), (7, 32)]]
        index.merge()


@pytest.mark.parametrize(
    ("ids", "codes"),
    [
        (np.array([1, 2]), np.zeros((2, 31), dtype=np.uint8)),
        (np.array([1, 2]), np.zeros((2, 32), dtype=np.int64)),
        (np.array([1.0, 2.0]), np.zeros((2, 32), dtype=np.uint8)),
        (np.array([[1, 2]]), np.zeros((2, 32), dtype=np.uint8)),
        (np.array([1, 2, 3]), np.zeros((2, 32), dtype=np.uint8)),
        (np.array([1]), np.zeros(32, dtype=np.uint8)),
    ],
)
def test_rejects_bad_shapes_and_dtypes(ids: np.ndarray, codes: np.ndarray) -> None:
    with pytest.raises(ValueError):
        HammingIndex().add(ids, codes)


@pytest.mark.parametrize("max_distance", [-1, 257, 3.0, True])
def test_rejects_bad_distance(max_distance: object) -> None:
    with pytest.raises(ValueError):
        HammingIndex().query(np.zeros(32, dtype=np.uint8), max_distance)  # type: ignore[arg-type]


def test_rejects_bad_query_shape() -> None:
    with pytest.raises(ValueError):
        HammingIndex().query(np.zeros((2, 16), dtype=np.uint8), 3)


@pytest.mark.parametrize("delta_limit", [0, 100])
def test_duplicate_ids_are_rejected_and_removed_ids_can_return(delta_limit: int) -> None:
    index = HammingIndex(delta_limit=delta_limit)
    codes = np.zeros((2, 32), dtype=np.uint8)
    with pytest.raises(ValueError, match="more than once"):
        index.add(np.array([3, 3], dtype=np.int64), codes)
    index.add(np.array([3, 4], dtype=np.int64), codes)
    with pytest.raises(ValueError, match="already in the index"):
        index.add(np.array([5, 4], dtype=np.int64), codes)
    assert len(index) == 2
    assert index.remove(np.array([4, 4, 99], dtype=np.int64)) == 1
    assert index.remove(np.array([4], dtype=np.int64)) == 0
    index.add(np.array([4], dtype=np.int64), codes[:1] + 1)
    assert index.query(codes[0] + 1, 0) == [[(4, 0)]]


def test_load_is_memory_mapped_and_mutations_after_load_work(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 256, (500, 32), dtype=np.uint8)
    index = HammingIndex()
    index.add(np.arange(500, dtype=np.int64), codes)
    index.merge()
    index.save(tmp_path / "idx")
    index.save(tmp_path / "idx")  # overwriting an existing save is atomic too
    loaded = HammingIndex.load(tmp_path / "idx", delta_limit=10)
    assert isinstance(loaded._codes, np.memmap)
    assert loaded.nbytes == index.nbytes
    assert loaded.remove(np.arange(0, 100, dtype=np.int64)) == 100
    assert loaded.needs_merge()  # tombstones past 10% of the rows
    loaded.merge()
    assert not isinstance(loaded._codes, np.memmap)  # merges write fresh arrays
    loaded.add(np.arange(1000, 1020, dtype=np.int64), codes[:20])
    assert loaded.query(codes[5], 0) == [[(1005, 0)]]
    assert loaded.query(codes[200], 0) == [[(200, 0)]]
    assert len(loaded) == 420
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx"]


def _huge_page_advised(array: np.ndarray) -> bool:
    """Whether the mapping behind the array's first whole 2 MiB span carries ``hg``
    (``MADV_HUGEPAGE``) in ``/proc/self/smaps``."""
    huge = 2 << 20
    span = -(-array.ctypes.data // huge) * huge
    assert span + huge <= array.ctypes.data + array.nbytes, "array too small to advise"
    inside = False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split(maxsplit=1)[0]
        if "-" in head and not head.endswith(":"):
            low, high = (int(part, 16) for part in head.split("-"))
            inside = low <= span < high
        elif inside and head == "VmFlags:":
            return "hg" in line.split()[1:]
    raise AssertionError(f"no mapping holds address {span:#x}")


def _resident_bytes(array: np.ndarray) -> int:
    """Bytes of the mapping that holds ``array`` present in this process's page tables."""
    address, inside = array.ctypes.data, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split(maxsplit=1)[0]
        if "-" in head and not head.endswith(":"):
            low, high = (int(part, 16) for part in head.split("-"))
            inside = low <= address < high
        elif inside and head == "Rss:":
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no mapping holds address {address:#x}")


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="Linux only")
def test_a_loaded_index_is_read_in_before_its_first_query(tmp_path: Path) -> None:
    codes = np.random.default_rng(6).integers(0, 256, (100_000, 32), dtype=np.uint8)
    index = HammingIndex()
    index.add(np.arange(100_000, dtype=np.int64), codes)
    index.merge()
    index.save(tmp_path / "idx")
    loaded = HammingIndex.load(tmp_path / "idx")
    for array in (loaded._codes, loaded._pos):
        assert _resident_bytes(array) >= array.nbytes
    assert loaded.query(codes[9], 0) == [[(9, 0)]]


@pytest.mark.skipif(
    not Path("/sys/kernel/mm/transparent_hugepage").exists(), reason="no transparent huge pages"
)
def test_large_arrays_ask_for_huge_pages_built_and_loaded(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    n = 300_000
    codes = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    index = HammingIndex()
    index.add(np.arange(n, dtype=np.int64), codes)
    index.merge()  # a bulk load: the delta becomes the codes
    index.remove(np.arange(0, n, 5, dtype=np.int64))
    index.add(np.arange(n, n + 100, dtype=np.int64), codes[:100])
    index.merge()  # a merge that writes fresh codes and tables
    index.save(tmp_path / "idx")
    loaded = HammingIndex.load(tmp_path / "idx")
    model = {i: codes[i] for i in range(n) if i % 5} | {n + i: codes[i] for i in range(100)}
    queries = np.concatenate([codes[:3], [flip(rng, codes[7], 20)], codes[n - 1 :]])
    expected = brute_force(model, queries, 31)
    for version in (index, loaded):
        for array in (version._codes, version._pos):
            assert _huge_page_advised(array)
        assert version.query(queries, 31) == expected


def test_codes_start_on_a_cache_line_built_merged_and_loaded(tmp_path: Path) -> None:
    """Survivors' codes are read at random: a 32-byte code straddling two cache lines
    would cost two memory accesses."""
    rng = np.random.default_rng(8)
    index = HammingIndex()
    for start in (0, 3000):  # a bulk load, then a merge into kept rows
        index.add(np.arange(start, start + 3000), rng.integers(0, 256, (3000, 32), np.uint8))
        index.merge()
        assert index._codes.ctypes.data % 64 == 0
    index.save(tmp_path / "index")
    assert HammingIndex.load(tmp_path / "index")._codes.ctypes.data % 64 == 0


def test_load_rejects_other_directories(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a saved index"):
        HammingIndex.load(tmp_path)


def test_layout_is_exact_at_the_matching_distance() -> None:
    assert TABLE_MAX_DISTANCE >= 31  # PDQ matching runs at 31; it must use the tables
    assert LAYOUT.tables * LAYOUT.width <= 256
    assert 16 < LAYOUT.width <= 32


def test_load_rejects_an_older_format_with_a_clear_message(tmp_path: Path) -> None:
    index = HammingIndex()
    index.add(np.arange(3, dtype=np.int64), np.zeros((3, 32), dtype=np.uint8))
    index.merge()
    index.save(tmp_path / "idx")
    meta_file = tmp_path / "idx" / "meta.json"
    meta = json.loads(meta_file.read_text())
    meta["version"] = 1
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="delete the snapshot"):
        HammingIndex.load(tmp_path / "idx")


def test_add_and_remove_never_merge_and_needs_merge_says_when_to() -> None:
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 256, (100, 32), dtype=np.uint8)
    index = HammingIndex(delta_limit=10)
    index.add(np.arange(10, dtype=np.int64), codes[:10])
    assert not index.needs_merge()
    index.add(np.arange(10, 100, dtype=np.int64), codes[10:])
    assert index.needs_merge()
    assert len(index._main) == 0  # still all in the delta
    index.merge()
    assert not index.needs_merge() and len(index._main) == 100
    assert index.remove(np.arange(10, dtype=np.int64)) == 10
    assert not index.needs_merge()  # exactly 10% of the rows: not past the limit
    assert index.remove(np.array([50], dtype=np.int64)) == 1
    assert index.needs_merge() and len(index._main) == 100
    index.merge()
    assert len(index._main) == 89 and index.query(codes[50], 0) == [[]]
    assert index.query(codes[51], 0) == [[(51, 0)]]


def test_copy_shares_the_tables_and_copies_tombstones_on_write() -> None:
    rng = np.random.default_rng(4)
    codes = rng.integers(0, 256, (300, 32), dtype=np.uint8)
    original = HammingIndex()
    original.add(np.arange(300, dtype=np.int64), codes)
    original.merge()
    original.remove(np.array([1], dtype=np.int64))
    version = original.copy()
    assert version._codes is original._codes and version._pos is original._pos
    assert version._main.dead is original._main.dead
    dead_before = original._main.dead.copy()
    version.remove(np.array([2, 3], dtype=np.int64))
    version.add(np.array([1000], dtype=np.int64), codes[:1])
    assert np.array_equal(original._main.dead, dead_before)
    assert original.query(codes[2], 0) == [[(2, 0)]]
    assert original.query(codes[0], 0) == [[(0, 0)]]
    assert version.query(codes[2], 0) == [[]]
    assert version.query(codes[0], 0) == [[(0, 0), (1000, 0)]]
    assert (len(original), len(version)) == (299, 298)


@pytest.mark.parametrize("mode", ["default", "whole-key directory"])
def test_queries_on_a_version_are_unaffected_while_a_copy_changes_in_another_thread(
    mode: str,
) -> None:
    rng = np.random.default_rng(5)
    n = 3000
    codes = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    model = dict(zip(range(n), codes, strict=True))
    with directory_mode(mode):
        published = HammingIndex(delta_limit=50)
        published.add(np.arange(n, dtype=np.int64), codes)
        published.merge()
        published.remove(np.arange(0, n, 7, dtype=np.int64))
        published.add(np.arange(n, n + 20, dtype=np.int64), codes[:20] ^ 1)
        for i in range(0, n, 7):
            del model[i]
        model.update((n + i, codes[i] ^ 1) for i in range(20))
        queries = near_codes(rng, model, 40, 31)
        expected = brute_force(model, queries, 31)
        writer_done = threading.Event()
        failures: list[str] = []

        def read() -> None:
            rounds = 0
            # At least a few full rounds, and on until the writer has finished.
            while rounds < 3 or not writer_done.is_set():
                if published.query(queries, 31) != expected:
                    failures.append(f"round {rounds}")
                rounds += 1

        readers = [threading.Thread(target=read) for _ in range(2)]
        for reader in readers:
            reader.start()
        private = published.copy()
        for step in range(6):
            private.remove(rng.integers(0, n, 300))
            fresh = rng.integers(0, 256, (120, 32), dtype=np.uint8)
            private.add(np.arange(10**6 + 120 * step, 10**6 + 120 * (step + 1)), fresh)
            private.merge()
        writer_done.set()
        for reader in readers:
            reader.join()
        assert failures == []
        assert published.query(queries, 31) == expected


@pytest.mark.parametrize("bits", [17, 18, LAYOUT.width])
def test_every_directory_width_is_exact(bits: int) -> None:
    """The real layout with the wider directories of larger indexes: 2**17 and 2**18
    entries (5M-33.5M rows) with part of each key in `lo`, 2**23 (past 33.5M) without."""
    rng = np.random.default_rng(6)
    n = 4000
    codes = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    with mock.patch.object(hamming, "dir_bits", lambda rows: bits):
        index = HammingIndex()
        index.add(np.arange(n, dtype=np.int64), codes)
        index.merge()
        assert index._lo.size == (0 if bits == LAYOUT.width else LAYOUT.tables * n)
        assert index._dirs.shape[1] == (1 << bits) + 1
        index.remove(np.arange(0, n, 5, dtype=np.int64))
        index.add(np.arange(n, n + 500, dtype=np.int64), codes[:500] ^ 3)
        index.merge()
        model = {i: codes[i] for i in range(n) if i % 5}
        model.update((n + i, codes[i] ^ 3) for i in range(500))
        queries = near_codes(rng, model, 30, 40)
        for max_distance in (0, 10, 22, 31, 32, 33):
            assert index.query(queries, max_distance) == brute_force(model, queries, max_distance)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    bases=st.integers(1, 4),
    rows=st.integers(51, 600),
    spread=st.integers(0, 12),
    removed_every=st.sampled_from([0, 2, 7]),
    max_distance=st.integers(0, TABLE_MAX_DISTANCE),
)
def test_whole_key_directory_with_crowded_buckets_matches_brute_force(
    seed: int, bases: int, rows: int, spread: int, removed_every: int, max_distance: int
) -> None:
    """Past 33.5M rows each bucket is one exact key and every entry of it is checked,
    codes fetched ahead of the one being checked across buckets and tables. Near copies
    of a few codes crowd the buckets (hundreds of entries under one key), with removals."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (bases, 32), dtype=np.uint8)
    codes = np.stack(
        [flip(rng, base[rng.integers(bases)], int(rng.integers(spread + 1))) for _ in range(rows)]
    )
    ids = np.arange(rows, dtype=np.int64) * 2 + 1
    with directory_mode("whole-key directory"):
        index = HammingIndex()
        index.add(ids, codes)
        index.merge()
        assert index._lo.size == 0
        gone = ids[::removed_every] if removed_every else ids[:0]
        index.remove(gone)
        model = {int(i): c for i, c in zip(ids, codes, strict=True) if i not in set(gone)}
        queries = np.concatenate([base, near_codes(rng, model, 6, 40)])
        assert index.query(queries, max_distance) == brute_force(model, queries, max_distance)


@pytest.mark.parametrize(
    ("rows", "bits"),
    [(1, 16), (2_000_000, 16), (5_000_000, 17), (10_000_000, 18), (33_000_000, 18),
     (40_000_000, 23)],
)  # fmt: skip
def test_directory_width_grows_with_the_index(rows: int, bits: int) -> None:
    assert hamming.dir_bits(rows) == bits
