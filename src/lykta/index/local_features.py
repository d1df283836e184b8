"""``LocalFeatureIndex``: banked photos by their ORB keypoints, found by descriptor voting
and confirmed by a geometric check.

PDQ sees a photo whole, so a crop, a small rotation or a screenshot of it moves the hash
far. Local features survive those edits: the same corners are found in the edited copy,
and one plane-to-plane mapping (a homography) carries the banked keypoints onto them.

A look-up here has two steps:

1. **Candidates by voting.** Every query descriptor finds the banked descriptors within
   ``VOTE_DISTANCE`` bits (of 256) that share at least one of its sixteen 16-bit pieces
   exactly (multi-index hashing over in-memory sorted arrays, rebuilt once per index
   version); each votes once for every photo holding one, and the few photos with the
   most votes go on. *First step:* the sorted arrays cost about 100 bytes per descriptor
   and a rebuild per change, and the buckets grow with the bank; that is right for banks
   of the deployment's own media (thousands to tens of thousands of photos). An inverted
   index over quantised descriptors, memory-mapped and incremental, is the planned
   replacement for millions.
2. **Verification**, which is what keeps unrelated photos from ever matching: Lowe's ratio
   test on the candidate's descriptors, one query keypoint per banked keypoint, a RANSAC
   homography with at least ``MIN_INLIERS`` inliers, inliers spread over the photo (not a
   lattice of one small repeated pattern), and a projected frame that is a plausible view
   of a photo (convex, not folded, not stretched past ``MAX_STRETCH``).

The answer's distance is the **inlier count**, the evidence a reviewer weighs: unlike PDQ,
higher means closer.

A banked photo is stored as ``CHUNKS`` fixed-width rows (``CHUNK_BYTES`` each,
``CHUNK_KEYPOINTS`` keypoints a row), so its hashes travel through the change log,
snapshots and replicas like every other kind's, and each row stays small enough for the
database's unique index on values. Every row of a photo carries the same group key (a
digest of all its keypoints): the index puts the rows back together, and a match names
the group's first row. A query, never stored, is one whole code of ``CODE_BYTES``.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np

from lykta.index._common import check_ids, load_dir, save_dir

#: Keypoints kept per photo: the strongest this many. More adds little but cost.
MAX_KEYPOINTS = 500
DESCRIPTOR_BYTES = 32
_SUBPIXEL = 4
# A query code: four uint16 (count, working width, height, 0), then MAX_KEYPOINTS (x, y)
# as uint16 in quarter pixels of the working image, then the descriptors; unused slots 0.
_HEADER_BYTES = 8
CODE_BYTES = _HEADER_BYTES + (4 + DESCRIPTOR_BYTES) * MAX_KEYPOINTS
# A banked row: an 8-byte group key, four uint16 (chunk number, count in it, working
# width, height), then CHUNK_KEYPOINTS positions and descriptors laid out as above.
CHUNK_KEYPOINTS = 50
CHUNKS = MAX_KEYPOINTS // CHUNK_KEYPOINTS
_GROUP_BYTES = 8
_CHUNK_HEADER = _GROUP_BYTES + 8
CHUNK_BYTES = _CHUNK_HEADER + (4 + DESCRIPTOR_BYTES) * CHUNK_KEYPOINTS

# Voting: a descriptor this close (of 256 bits) to a banked one votes for its item. True
# correspondences of ORB sit mostly below 40; unrelated ones around 100.
VOTE_DISTANCE = 50
#: Fewest votes for an item to be verified at all, and how many items are verified.
MIN_VOTES = 8
MAX_CANDIDATES = 5
# Verification. Measured on benign photos (issue 10): true matches had a median of 350
# inliers, unrelated photos at most 16.
RATIO = 0.8
MIN_INLIERS = 25
RANSAC_PIXELS = 5.0
RANSAC_ROUNDS = 1000
#: The inliers' bounding box must span this share of the banked photo in each direction.
MIN_SPREAD = 0.25
#: The projected frame may be scaled by at most this factor either way, and no side may
#: be stretched against its opposite by more than it.
MAX_SCALE = 12.0
MAX_STRETCH = 3.0


@dataclass(frozen=True, slots=True)
class LocalFeatures:
    """Keypoints of one photo in its working image: positions ``(n, 2)`` float32 and
    descriptors ``(n, 32)`` uint8, with the working image's size."""

    points: np.ndarray
    descriptors: np.ndarray
    width: int
    height: int

    def __len__(self) -> int:
        return int(self.points.shape[0])

    def to_code(self) -> bytes:
        """The whole set as one query code."""
        count = min(len(self), MAX_KEYPOINTS)
        header = np.array([count, self.width, self.height, 0], dtype="<u2").tobytes()
        return header + _pack(self.points[:count], self.descriptors[:count], MAX_KEYPOINTS)

    @classmethod
    def from_code(cls, code: bytes | np.ndarray) -> LocalFeatures:
        raw = np.frombuffer(bytes(code), dtype=np.uint8)
        if raw.shape[0] != CODE_BYTES:
            raise ValueError(f"a local-features code is {CODE_BYTES} bytes, got {raw.shape[0]}")
        count, width, height, _ = raw[:_HEADER_BYTES].view("<u2").tolist()
        if count > MAX_KEYPOINTS:
            raise ValueError(f"a local-features code holds at most {MAX_KEYPOINTS} keypoints")
        points, descriptors = _unpack(raw[_HEADER_BYTES:], MAX_KEYPOINTS, count)
        return cls(points, descriptors, width, height)

    def to_chunks(self) -> list[bytes]:
        """The set as the rows a bank stores: one per ``CHUNK_KEYPOINTS`` keypoints."""
        code = self.to_code()
        group = hashlib.sha256(code).digest()[:_GROUP_BYTES]
        count = min(len(self), MAX_KEYPOINTS)
        rows = []
        for number, start in enumerate(range(0, max(count, 1), CHUNK_KEYPOINTS)):
            end = min(start + CHUNK_KEYPOINTS, count)
            header = np.array([number, end - start, self.width, self.height], dtype="<u2")
            body = _pack(self.points[start:end], self.descriptors[start:end], CHUNK_KEYPOINTS)
            rows.append(group + header.tobytes() + body)
        return rows

    @classmethod
    def from_chunks(cls, rows: list[Chunk]) -> LocalFeatures:
        """A set put back together from its rows (in any order)."""
        ordered = sorted(rows, key=lambda row: row.number)
        return cls(
            np.concatenate([row.points for row in ordered]),
            np.concatenate([row.descriptors for row in ordered]),
            ordered[0].width,
            ordered[0].height,
        )


@dataclass(frozen=True, slots=True)
class Chunk:
    """One stored row of a banked photo's keypoints."""

    group: bytes
    number: int
    points: np.ndarray
    descriptors: np.ndarray
    width: int
    height: int

    @classmethod
    def from_row(cls, code: bytes | np.ndarray) -> Chunk:
        raw = np.frombuffer(bytes(code), dtype=np.uint8)
        if raw.shape[0] != CHUNK_BYTES:
            raise ValueError(f"a local-features row is {CHUNK_BYTES} bytes, got {raw.shape[0]}")
        number, count, width, height = raw[_GROUP_BYTES:_CHUNK_HEADER].view("<u2").tolist()
        if number >= CHUNKS or count > CHUNK_KEYPOINTS:
            raise ValueError(
                f"a local-features row is one of {CHUNKS} and holds at most "
                f"{CHUNK_KEYPOINTS} keypoints"
            )
        points, descriptors = _unpack(raw[_CHUNK_HEADER:], CHUNK_KEYPOINTS, count)
        return cls(raw[:_GROUP_BYTES].tobytes(), number, points, descriptors, width, height)


def _pack(points: np.ndarray, descriptors: np.ndarray, slots: int) -> bytes:
    xy = np.zeros((slots, 2), dtype="<u2")
    xy[: len(points)] = np.clip(np.rint(points * _SUBPIXEL), 0, 65535)
    table = np.zeros((slots, DESCRIPTOR_BYTES), dtype=np.uint8)
    table[: len(descriptors)] = descriptors
    return xy.tobytes() + table.tobytes()


def _unpack(raw: np.ndarray, slots: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    xy = raw[: 4 * slots].view("<u2").reshape(-1, 2)
    table = raw[4 * slots :].reshape(-1, DESCRIPTOR_BYTES)
    return xy[:count].astype(np.float32) / _SUBPIXEL, table[:count].copy()


class LocalFeatureIndex:
    """Banked photos' local features, stored as rows by hash id and grouped back into one
    set per photo; see the module docstring for a look-up.

    Versions work as the ``HashIndex`` protocol says: ``copy`` shares the rows (never
    changed once added); ``merge`` (or else the first query of a version, under a lock)
    builds the table of photos and the multi-index it votes over.
    """

    code_bytes = CHUNK_BYTES

    def __init__(self) -> None:
        self._rows: dict[int, Chunk] = {}
        self._groups: dict[bytes, frozenset[int]] = {}
        self._table: _Table | None = None
        self._table_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def nbytes(self) -> int:
        return sum(row.points.nbytes + row.descriptors.nbytes for row in self._rows.values())

    def add(self, ids: Any, codes: Any) -> None:
        ids = check_ids(ids)
        table = np.asarray(codes, dtype=np.uint8).reshape(-1, CHUNK_BYTES)
        if table.shape[0] != ids.shape[0]:
            raise ValueError(f"{ids.shape[0]} ids for {table.shape[0]} codes")
        found = [int(i) for i in ids]
        if len(set(found)) != len(found) or any(i in self._rows for i in found):
            raise ValueError("duplicate id in a local-features index")
        for hash_id, code in zip(found, table, strict=True):
            row = Chunk.from_row(code)
            self._rows[hash_id] = row
            self._groups[row.group] = self._groups.get(row.group, frozenset()) | {hash_id}
        self._table = None

    def remove(self, ids: Any) -> int:
        removed = 0
        for hash_id in check_ids(ids).tolist():
            row = self._rows.pop(int(hash_id), None)
            if row is None:
                continue
            removed += 1
            left = self._groups[row.group] - {int(hash_id)}
            if left:
                self._groups[row.group] = left
            else:
                del self._groups[row.group]
        if removed:
            self._table = None
        return removed

    def copy(self) -> Self:
        other = type(self)()
        other._rows = dict(self._rows)
        other._groups = dict(self._groups)
        other._table = self._table
        return other

    def needs_merge(self) -> bool:
        """Whether the photos and multi-index are stale since the last change: the
        matcher rebuilds them in its follower thread, off the look-up path."""
        return self._table is None and bool(self._rows)

    def merge(self) -> None:
        """Put the photos back together and sort the multi-index (a query of a version
        that was never merged does it first, under a lock)."""
        self._flat()

    def query(self, codes: Any, max_distance: int = 0) -> list[list[tuple[int, int]]]:
        """Per query code (a whole set of ``CODE_BYTES``), ``(id, inliers)`` of every
        verified photo, named by its first row's id, most inliers first.

        ``max_distance`` is ignored: verification, not a radius, decides a match.
        """
        table = np.asarray(codes, dtype=np.uint8).reshape(-1, CODE_BYTES)
        out: list[list[tuple[int, int]]] = []
        for code in table:
            found = self.verified(LocalFeatures.from_code(code))
            out.append(sorted(found.items(), key=lambda pair: (-pair[1], pair[0])))
        return out

    def verified(self, query: LocalFeatures) -> dict[int, int]:
        """The inlier count of each photo that passes verification against ``query``, by
        its first row's id."""
        table = self._flat()
        found: dict[int, int] = {}
        for position in self._candidates(query, table):
            inliers = verify(query, table.features[position])
            if inliers is not None:
                found[int(table.ids[position])] = inliers
        return found

    def candidates(self, query: LocalFeatures) -> list[int]:
        """Ids of the photos to verify, most votes first (at most ``MAX_CANDIDATES``)."""
        table = self._flat()
        return [int(table.ids[position]) for position in self._candidates(query, table)]

    def _candidates(self, query: LocalFeatures, table: _Table) -> list[int]:
        if len(query) < MIN_INLIERS or not table.features:
            return []
        pairs = table.close_pairs(query.descriptors)
        if not pairs.size:
            return []
        # One vote per query keypoint and photo, however many of its keypoints are close.
        voters = np.unique(pairs[:, 0] * len(table.features) + table.owners[pairs[:, 1]])
        votes = np.bincount(voters % len(table.features), minlength=len(table.features))
        order = np.argsort(-votes, kind="stable")[:MAX_CANDIDATES]
        return [int(position) for position in order if votes[position] >= MIN_VOTES]

    def _flat(self) -> _Table:
        with self._table_lock:
            if self._table is None:
                self._table = _Table.of(self._rows, self._groups)
            return self._table

    def save(self, path: str | Path) -> None:
        ids = np.array(list(self._rows), dtype=np.int64)
        codes = np.frombuffer(
            b"".join(_row_code(row) for row in self._rows.values()), dtype=np.uint8
        ).reshape(-1, CHUNK_BYTES)
        save_dir(path, _KIND, {}, {"ids": ids, "codes": codes})

    @classmethod
    def load(cls, path: str | Path) -> Self:
        _, arrays = load_dir(path, _KIND, ["ids", "codes"])
        index = cls()
        if arrays["ids"].shape[0]:
            index.add(np.array(arrays["ids"]), np.array(arrays["codes"]))
        return index


_KIND = "lykta.local_features"


def _row_code(row: Chunk) -> bytes:
    header = np.array([row.number, len(row.points), row.width, row.height], dtype="<u2")
    return row.group + header.tobytes() + _pack(row.points, row.descriptors, CHUNK_KEYPOINTS)


@dataclass(frozen=True, slots=True)
class _Table:
    """One version's photos put together: each photo's set and first row id, all
    descriptors in one array with the position of the photo each belongs to, and the
    multi-index over them: per 16-bit piece of a descriptor, the rows sorted by it."""

    features: list[LocalFeatures]
    ids: np.ndarray
    descriptors: np.ndarray
    owners: np.ndarray
    piece_keys: np.ndarray  # (PIECES, rows): each piece's keys, sorted
    piece_rows: np.ndarray  # (PIECES, rows): the descriptor row of each sorted key

    @classmethod
    def of(cls, rows: dict[int, Chunk], groups: dict[bytes, frozenset[int]]) -> _Table:
        features = [
            LocalFeatures.from_chunks([rows[i] for i in members]) for members in groups.values()
        ]
        ids = np.array([min(members) for members in groups.values()], dtype=np.int64)
        descriptors = np.ascontiguousarray(
            np.concatenate(
                [f.descriptors for f in features] or [np.zeros((0, DESCRIPTOR_BYTES), np.uint8)]
            )
        )
        owners = np.repeat(np.arange(len(features)), [len(f) for f in features])
        keys = descriptors.view("<u2").T  # (PIECES, rows)
        order = np.argsort(keys, axis=1, kind="stable")
        return cls(features, ids, descriptors, owners, np.take_along_axis(keys, order, 1), order)

    def close_pairs(self, query: np.ndarray) -> np.ndarray:
        """(query row, banked row) pairs within ``VOTE_DISTANCE`` that share at least one
        16-bit piece exactly (multi-index hashing: at ORB's typical distances of true
        correspondences, 20-40 bits of 256, two thirds of them share a piece)."""
        keys = np.ascontiguousarray(query).view("<u2")
        rows = self.descriptors.shape[0]
        # A bucket far fuller than an even spread would give is a common pattern (flat
        # areas, edges): it says nothing about which photo this is.
        full = max(32, 16 * rows // 65536)
        found = []
        for piece in range(PIECES):
            sorted_keys = self.piece_keys[piece]
            low = np.searchsorted(sorted_keys, keys[:, piece], "left")
            high = np.searchsorted(sorted_keys, keys[:, piece], "right")
            counts = np.where(high - low <= full, high - low, 0)
            total = int(counts.sum())
            if not total:
                continue
            starts = np.repeat(low - (np.cumsum(counts) - counts), counts)
            found.append(
                np.stack(
                    [
                        np.repeat(np.arange(len(keys)), counts),
                        self.piece_rows[piece][starts + np.arange(total)],
                    ],
                    axis=1,
                )
            )
        if not found:
            return np.zeros((0, 2), np.int64)
        # A pair sharing several pieces comes once per piece: measured again, not sorted
        # out (the votes count each query keypoint once per photo anyway).
        pairs = np.concatenate(found)
        distances = _POPCOUNT[query[pairs[:, 0]] ^ self.descriptors[pairs[:, 1]]].sum(axis=1)
        close: np.ndarray = pairs[distances <= VOTE_DISTANCE]
        return close


PIECES = DESCRIPTOR_BYTES // 2
_POPCOUNT = np.array([bin(n).count("1") for n in range(256)], dtype=np.uint16)


def verify(query: LocalFeatures, banked: LocalFeatures) -> int | None:
    """The inliers of one candidate's geometric check, or None when it fails any part."""
    if len(query) < MIN_INLIERS or len(banked) < MIN_INLIERS:
        return None
    import cv2  # here, not at the top: only a verification needs OpenCV (see lykta.index)

    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(query.descriptors, banked.descriptors, k=2)
    best: dict[int, tuple[float, int]] = {}  # banked keypoint -> (distance, query keypoint)
    for pair in pairs:
        if len(pair) < 2:
            continue
        first, second = pair
        if first.distance < RATIO * second.distance and first.distance <= VOTE_DISTANCE + 14:
            held = best.get(first.trainIdx)
            if held is None or first.distance < held[0]:
                best[first.trainIdx] = (first.distance, first.queryIdx)
    # One query keypoint per banked keypoint and back: a repeated pattern cannot pile many
    # query points onto one banked point.
    used: set[int] = set()
    kept: list[tuple[int, int]] = []
    for train, (_, query_index) in sorted(best.items(), key=lambda item: item[1][0]):
        if query_index not in used:
            used.add(query_index)
            kept.append((train, query_index))
    if len(kept) < MIN_INLIERS:
        return None
    source = banked.points[[t for t, _ in kept]].reshape(-1, 1, 2)
    target = query.points[[q for _, q in kept]].reshape(-1, 1, 2)
    # 1,000 rounds find a homography whose inliers are at least 28% of the pairs 99.5% of
    # the time; true matches run at 90% and stop after a few dozen. Unrelated photos, with
    # no such homography, run them all: the rounds are their cost.
    fitted: tuple[Any, Any] = cv2.findHomography(
        source, target, cv2.RANSAC, RANSAC_PIXELS, maxIters=RANSAC_ROUNDS, confidence=0.995
    )
    homography, mask = fitted
    if homography is None or mask is None:  # OpenCV's stubs miss it: a failed fit
        return None
    inlying = mask.ravel().astype(bool)
    inliers = int(inlying.sum())
    if inliers < MIN_INLIERS:
        return None
    if not _spread(source.reshape(-1, 2)[inlying], banked) or not _spread(
        target.reshape(-1, 2)[inlying], query, relative_to=source.reshape(-1, 2)[inlying]
    ):
        return None
    if not _plausible_frame(homography, banked):
        return None
    return inliers


def _spread(
    points: np.ndarray, image: LocalFeatures, relative_to: np.ndarray | None = None
) -> bool:
    """Whether the inliers span enough of the banked photo (``relative_to`` None), or, on
    the query side, are not collapsed far below the banked span (a degenerate mapping)."""
    span = points.max(axis=0) - points.min(axis=0)
    if relative_to is None:
        return bool(span[0] >= MIN_SPREAD * image.width and span[1] >= MIN_SPREAD * image.height)
    banked_span = relative_to.max(axis=0) - relative_to.min(axis=0)
    return bool(np.all(span * MAX_SCALE >= banked_span))


def _plausible_frame(homography: np.ndarray, banked: LocalFeatures) -> bool:
    """Whether the banked photo's corners, carried into the query, make a plausible view
    of a photo: convex, not folded, not scaled or stretched past the limits."""
    import cv2

    w, h = float(banked.width), float(banked.height)
    corners = np.array([[[0, 0]], [[w, 0]], [[w, h]], [[0, h]]], dtype=np.float64)
    denominators = (corners.reshape(-1, 2) @ homography[2, :2]) + homography[2, 2]
    if np.any(denominators <= 0):  # a corner behind the camera: the frame folds
        return False
    frame = cv2.perspectiveTransform(corners, homography).reshape(-1, 2)
    edges = np.roll(frame, -1, axis=0) - frame
    turns = (
        edges[:, 0] * np.roll(edges, -1, axis=0)[:, 1]
        - edges[:, 1] * np.roll(edges, -1, axis=0)[:, 0]
    )
    if not (np.all(turns > 0) or np.all(turns < 0)):  # not convex: a bow tie
        return False
    area = abs(float(cv2.contourArea(frame.astype(np.float32))))
    scale = area / (w * h)
    if not 1 / MAX_SCALE**2 <= scale <= MAX_SCALE**2:
        return False
    lengths = np.hypot(edges[:, 0], edges[:, 1])
    for a, b in ((lengths[0], lengths[2]), (lengths[1], lengths[3])):
        if min(a, b) <= 0 or max(a, b) / min(a, b) > MAX_STRETCH:
            return False
    aspect = (lengths[0] + lengths[2]) / (lengths[1] + lengths[3])
    return bool(1 / MAX_STRETCH <= aspect / (w / h) <= MAX_STRETCH)
