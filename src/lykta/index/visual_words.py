"""Visual words: ORB descriptors quantised to one of ``WORDS`` binary centroids, so banked
keypoints can be filed in an inverted index (word -> the keypoints that fall in it).

The vocabulary is a two-level tree (``BRANCHES`` centroids, each with ``BRANCHES``
children), learnt once by k-majority (binary k-means: each centroid bit is the majority
of its members' bits) on ORB descriptors of generated benign photos, and shipped as
``orb_words.npy`` so every replica and every version files a descriptor under the same
word. ``bench/train_orb_words.py`` rebuilds it from the same photos and seed, bit for bit.
A descriptor's word is its nearest root centroid, then the nearest of that one's children
(Hamming distance, ``faiss.IndexBinaryFlat``): 512 comparisons, not 65,536.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import faiss
import numpy as np

BRANCHES = 256
WORDS = BRANCHES * BRANCHES
DESCRIPTOR_BYTES = 32
_FILE = Path(__file__).with_name("orb_words.npy")
# A look-up quantises a few hundred descriptors: faiss's OpenMP threads cost more than
# they save there (and spin while the machine is busy: 0.5 ms became 23 ms measured).
faiss.omp_set_num_threads(1)


class Vocabulary:
    """A two-level binary vocabulary: ``centroids`` holds the ``BRANCHES`` roots, then the
    ``BRANCHES`` children of each root in order (``(BRANCHES + WORDS, 32)`` uint8)."""

    def __init__(self, centroids: np.ndarray) -> None:
        if centroids.shape != (BRANCHES + WORDS, DESCRIPTOR_BYTES) or centroids.dtype != np.uint8:
            raise ValueError(f"a vocabulary is ({BRANCHES + WORDS}, 32) uint8 centroids")
        self.centroids = centroids
        self._root = _flat(centroids[:BRANCHES])
        self._children = [
            _flat(centroids[BRANCHES + BRANCHES * n : BRANCHES + BRANCHES * (n + 1)])
            for n in range(BRANCHES)
        ]

    def words(self, descriptors: np.ndarray) -> np.ndarray:
        """Each descriptor's word (uint32, below ``WORDS``)."""
        table = np.ascontiguousarray(descriptors, dtype=np.uint8).reshape(-1, DESCRIPTOR_BYTES)
        out = np.zeros(table.shape[0], np.uint32)
        if not table.shape[0]:
            return out
        roots = _nearest(self._root, table)
        order = np.argsort(roots, kind="stable")
        grouped = np.ascontiguousarray(table[order])
        bounds = np.searchsorted(roots[order], np.arange(BRANCHES + 1))
        leaves = np.zeros(len(order), np.int64)
        distances = np.zeros(len(order), np.int32)
        # One search per root over its descriptors, side by side in `grouped`, written in
        # place (faiss's low-level call: its Python wrapper costs more than the search).
        for root in np.flatnonzero(np.diff(bounds)).tolist():
            low, high = int(bounds[root]), int(bounds[root + 1])
            self._children[root].search_c(  # type: ignore[attr-defined]  # SWIG, unstubbed
                high - low,
                faiss.swig_ptr(grouped[low:high]),
                1,
                faiss.swig_ptr(distances[low:high]),
                faiss.swig_ptr(leaves[low:high]),
            )
        out[order] = roots[order] * BRANCHES + leaves
        return out


@cache
def vocabulary() -> Vocabulary:
    """The shipped vocabulary (loaded once a process)."""
    return Vocabulary(np.load(_FILE))


def train(descriptors: np.ndarray, seed: int = 0, rounds: int = 10) -> np.ndarray:
    """Centroids for ``Vocabulary``, learnt from ``descriptors`` (n, 32) deterministically."""
    rng = np.random.default_rng(seed)
    table = np.ascontiguousarray(descriptors, dtype=np.uint8)
    roots = _k_majority(table, BRANCHES, rng, rounds)
    assigned = _nearest(_flat(roots), table)
    children = [
        _k_majority(table[assigned == root], BRANCHES, rng, rounds) for root in range(BRANCHES)
    ]
    return np.concatenate([roots, *children])


def _k_majority(table: np.ndarray, k: int, rng: np.random.Generator, rounds: int) -> np.ndarray:
    """``k`` binary centroids of ``table`` by k-majority; a cluster left empty (or too few
    points to begin with) takes a random point, so there are always ``k``."""
    if table.shape[0] == 0:
        return rng.integers(0, 256, (k, DESCRIPTOR_BYTES), dtype=np.uint8)
    start = rng.choice(table.shape[0], k, replace=table.shape[0] < k)
    centroids = table[start].copy()
    bits = np.unpackbits(table, axis=1)
    for _ in range(rounds):
        assigned = _nearest(_flat(centroids), table)
        counts = np.bincount(assigned, minlength=k)
        present = np.flatnonzero(counts)
        order = np.argsort(assigned, kind="stable")
        starts = (np.cumsum(counts) - counts)[present]
        sums = np.add.reduceat(bits[order], starts, axis=0, dtype=np.int32)
        updated = centroids.copy()
        updated[present] = np.packbits(sums * 2 > counts[present, None], axis=1)
        empty = np.flatnonzero(counts == 0)
        if empty.size:
            updated[empty] = table[rng.choice(table.shape[0], empty.size)]
        if np.array_equal(updated, centroids):
            break
        centroids = updated
    return centroids


def _flat(centroids: np.ndarray) -> faiss.IndexBinaryFlat:
    index = faiss.IndexBinaryFlat(8 * DESCRIPTOR_BYTES)
    index.add(np.ascontiguousarray(centroids))
    return index


def _nearest(index: faiss.IndexBinaryFlat, table: np.ndarray) -> np.ndarray:
    _, found = index.search(np.ascontiguousarray(table), 1)
    nearest: np.ndarray = found[:, 0].astype(np.int64)
    return nearest
