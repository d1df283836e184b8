"""``LocalFeatureIndex``: banked photos by their ORB keypoints, found by descriptor voting
and confirmed by a geometric check.

PDQ sees a photo whole, so a crop, a small rotation or a screenshot of it moves the hash
far. Local features survive those edits: the same corners are found in the edited copy,
and one plane-to-plane mapping (a homography) carries the banked keypoints onto them.

A look-up here has two steps:

1. **Candidates by voting** in an inverted index over visual words
   (``lykta.index.visual_words``: 65,536 binary centroids shipped with Lykta). Each
   banked keypoint is filed under its word as a *posting*: the slot of its row (4 bytes)
   and a ``SIGNATURE_BITS`` signature of its descriptor (4 bytes). A query keypoint reads
   the postings of its own word that agree with it on ``SPLIT_BITS`` (a word's list is
   sorted by them), keeps those whose signature is within ``SIGNATURE_DISTANCE`` of its
   own, and votes once for each photo they belong to; the ``MAX_CANDIDATES`` photos with
   most votes go on. About 8 bytes a keypoint and 4.3 KB a photo of 500 keypoints (figures in
   docs/benchmarks.md); the postings live in segments that are added, tombstoned and
   joined as the ``LocalFeatureIndex`` docstring says, and a snapshot memory-maps them.
2. **Verification**, which is what keeps unrelated photos from ever matching: Lowe's ratio
   test on the candidate's descriptors, one query keypoint per banked keypoint, a RANSAC
   homography with at least ``MIN_INLIERS`` inliers, inliers spread over the photo (not a
   lattice of one small repeated pattern), and a projected frame that is a plausible view
   of a photo (convex, not folded, not stretched past ``MAX_STRETCH``). It reads the
   candidate's full keypoints from its banked rows (18,160 bytes a photo), which the
   index keeps beside the postings but never scans: once loaded from a snapshot they are
   memory-mapped, and a look-up pages in only its candidates' rows.

The answer's distance is the **inlier count**, the evidence a reviewer weighs: unlike PDQ,
higher means closer. With it comes the part of the banked photo the query shows
(``Verified.covered``): the query's frame carried back onto the banked photo.

A banked photo is stored as ``CHUNKS`` fixed-width rows (``CHUNK_BYTES`` each,
``CHUNK_KEYPOINTS`` keypoints a row), so its hashes travel through the change log,
snapshots and replicas like every other kind's, and each row stays small enough for the
database's unique index on values. Every row of a photo carries the same group key (a
digest of all its keypoints): the index puts the rows back together, and a match names
the group's first row. A query, never stored, is one whole code of ``CODE_BYTES``.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np

from lykta.index._common import (
    MainIds,
    check_ids,
    check_rows,
    check_unique,
    load_dir,
    narrow_ids,
    save_dir,
)
from lykta.index.visual_words import WORDS, vocabulary

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

# Voting: a query keypoint votes for the photos with a keypoint in its visual word whose
# first SIGNATURE_BITS bits differ from its own in at most SIGNATURE_DISTANCE. True
# correspondences of ORB differ in at most about 40 bits of 256; unrelated ones near 100.
SIGNATURE_BITS = 32
SIGNATURE_DISTANCE = 8
#: ... and agree on these signature bits: a word's list is sorted by them, so a query
#: keypoint reads only its own part of it (0.29 of the postings, measured on 10,000
#: photos). They are the signature bits most evenly split within words (a word's
#: descriptors agree on most bits); a true correspondence keeps all four half the time.
SPLIT_BITS = (3, 7, 10, 25)
SPLIT_MASK = sum(1 << bit for bit in SPLIT_BITS)
VOTE_DISTANCE = 50
#: A word holding more than STOP_FACTOR times its share of postings (and STOP_MINIMUM) is
#: a common pattern and casts no votes.
STOP_FACTOR = 16
STOP_MINIMUM = 64
#: Fewest votes for an item to be verified at all, and how many items are verified.
MIN_VOTES = 8
MAX_CANDIDATES = 5
#: Rows added are folded into the newest segment while it holds fewer than this.
DELTA_ROWS = 5_000
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


#: A box on a photo: (left, top, right, bottom), as shares of its width and height.
Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class Verified:
    """A candidate that passed verification: its inlier count, and the box of the banked
    photo that the query shows (the whole photo for a copy that holds all of it)."""

    inliers: int
    covered: Box


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
    """Banked photos' local features in an inverted index over visual words; see the
    module docstring for a look-up.

    The index is a short list of immutable *segments*, oldest and largest first. An add
    files its rows as a new segment (folded into the last one while that is small), a
    removal sets tombstone bits, and ``merge`` joins the newest segments while one is
    more than half the size of the one before it (so there are about log2(photos / 500)
    of them and each posting is re-sorted about that many times in all), or rewrites a
    segment whose tombstones pass a tenth of its rows: never a rebuild of the whole index
    per change.

    Versions work as the ``HashIndex`` protocol says: ``copy`` shares every segment and
    copies the tombstones on their next write.
    """

    code_bytes = CHUNK_BYTES

    def __init__(self) -> None:
        self._segments: list[tuple[_Segment, MainIds]] = []
        # Per segment, per photo: whether its group key is filed in another segment too.
        self._shared: list[np.ndarray] = []

    def __len__(self) -> int:
        return sum(ids.live for _, ids in self._segments)

    @property
    def nbytes(self) -> int:
        """Bytes of every array: the retrieval structure and the banked rows."""
        return self.retrieval_nbytes + self.rows_nbytes

    @property
    def retrieval_nbytes(self) -> int:
        """Bytes a look-up's candidate search reads: postings, word offsets, ids, groups,
        each row's photo and the marks of photos filed in two segments."""
        segments = sum(segment.retrieval_nbytes + ids.nbytes for segment, ids in self._segments)
        return segments + sum(int(shared.nbytes) for shared in self._shared)

    @property
    def rows_nbytes(self) -> int:
        """Bytes of the banked rows, read only for the few candidates a look-up verifies
        (memory-mapped from the snapshot once the index is loaded from one)."""
        return sum(segment.rows_nbytes for segment, _ in self._segments)

    @property
    def segment_rows(self) -> list[int]:
        """Rows filed in each segment, oldest first (removed ones until compaction)."""
        return [segment.rows for segment, _ in self._segments]

    @property
    def mapped(self) -> bool:
        """Whether the postings and rows are memory-mapped (loaded from a snapshot)."""
        return all(
            isinstance(array, np.memmap)
            for segment, _ in self._segments
            for array in (segment.posting_slots, segment.posting_signatures, *segment.blocks)
            if array.size
        )

    def add(self, ids: Any, codes: Any) -> None:
        ids = check_ids(ids)
        table = check_rows(codes, CHUNK_BYTES, "local-features rows", allow_single=True)
        if table.shape[0] != ids.shape[0]:
            raise ValueError(f"{ids.shape[0]} ids for {table.shape[0]} codes")
        check_unique(ids)
        if any(bool((held.find(ids) >= 0).any()) for _, held in self._segments):
            raise ValueError("duplicate id in a local-features index")
        if not ids.size:
            return
        added = (_Segment.of(table), MainIds(narrow_ids(ids)))
        segments = list(self._segments)
        if segments and segments[-1][0].rows < DELTA_ROWS:
            added = _join([segments.pop(), added])
        self._replace([*segments, added])

    def remove(self, ids: Any) -> int:
        wanted = np.unique(check_ids(ids))
        removed = 0
        for _, held in self._segments:
            rows = held.find(wanted)
            rows = rows[rows >= 0]
            held.kill(rows)
            removed += int(rows.size)
        return removed

    def copy(self) -> Self:
        other = type(self)()
        other._segments = [(segment, ids.copy()) for segment, ids in self._segments]
        other._shared = list(self._shared)
        return other

    def needs_merge(self) -> bool:
        """Whether segments should be joined or compacted (``merge``, in the matcher's
        follower thread, off the look-up path)."""
        sizes = self.segment_rows
        return any(2 * later > earlier for earlier, later in itertools.pairwise(sizes)) or any(
            ids.needs_compaction() for _, ids in self._segments
        )

    def merge(self) -> None:
        """Compact segments heavy with tombstones, then join the newest ones while one
        is more than half the size of the one before."""
        segments = [
            _join([part]) if part[1].needs_compaction() else part for part in self._segments
        ]
        segments = [part for part in segments if part[0].rows]
        while len(segments) >= 2 and 2 * segments[-1][0].rows > segments[-2][0].rows:
            last = segments.pop()
            segments.append(_join([segments.pop(), last]))
        self._replace(segments)

    def _replace(self, segments: list[tuple[_Segment, MainIds]]) -> None:
        """Take ``segments`` as the index's, marking the photos filed in more than one
        (whose votes are counted across segments). Only segments not held before are
        compared with the others, so an add compares its few photos; a mark may outlive
        the other copy (one removed since), which costs a little time, never a vote."""
        held = {
            id(segment): shared
            for (segment, _), shared in zip(self._segments, self._shared, strict=True)
        }
        marks: list[np.ndarray | None] = [held.get(id(segment)) for segment, _ in segments]
        fresh = [n for n, mark in enumerate(marks) if mark is None]
        copied: set[int] = set(fresh)
        for n in fresh:
            mine = segments[n][0].photo_groups
            shared = np.zeros(mine.shape[0], bool)
            for m, (other, _) in enumerate(segments):
                theirs = other.photo_groups
                if m == n or not theirs.size or not mine.size:
                    continue
                at = np.minimum(np.searchsorted(theirs, mine), theirs.shape[0] - 1)
                found = theirs[at] == mine
                if not found.any():
                    continue
                shared |= found
                mark = marks[m]
                if m not in copied and mark is not None:  # shared with older versions
                    mark = mark.copy()
                    copied.add(m)
                if mark is not None:
                    mark[at[found]] = True
                    marks[m] = mark
            marks[n] = shared if marks[n] is None else marks[n] | shared
        self._segments = segments
        self._shared = [mark for mark in marks if mark is not None]

    def query(self, codes: Any, max_distance: int = 0) -> list[list[tuple[int, int]]]:
        """Per query code (a whole set of ``CODE_BYTES``), ``(id, inliers)`` of every
        verified photo, named by its first row's id, most inliers first.

        ``max_distance`` is ignored: verification, not a radius, decides a match.
        """
        return [
            [(hash_id, verified.inliers) for hash_id, verified in row]
            for row in self.query_verified(codes)
        ]

    def query_verified(self, codes: Any) -> list[list[tuple[int, Verified]]]:
        """As ``query``, with the whole evidence of each verified photo (what a match
        reports)."""
        table = np.asarray(codes, dtype=np.uint8).reshape(-1, CODE_BYTES)
        out: list[list[tuple[int, Verified]]] = []
        for code in table:
            found = self.verified(LocalFeatures.from_code(code))
            out.append(sorted(found.items(), key=lambda pair: (-pair[1].inliers, pair[0])))
        return out

    def verified(self, query: LocalFeatures) -> dict[int, Verified]:
        """Each photo that passes verification against ``query``, by its first row's id
        (every copy of it: the same photo in two banks)."""
        found: dict[int, Verified] = {}
        for group in self._candidates(query):
            banked, first_rows = self._photo(group)
            verified = verify(query, banked)
            if verified is not None:
                found.update(dict.fromkeys(first_rows, verified))
        return found

    def candidates(self, query: LocalFeatures) -> list[int]:
        """First-row ids of the photos to verify, most votes first (at most
        ``MAX_CANDIDATES`` photos)."""
        return [min(self._photo(group)[1]) for group in self._candidates(query)]

    def photos(self) -> list[tuple[LocalFeatures, list[int]]]:
        """Every live banked photo with its first-row ids: what brute force verifies."""
        groups = np.unique(
            np.concatenate(
                [np.zeros(0, np.uint64)]
                + [segment.groups[_live(ids, segment.rows)] for segment, ids in self._segments]
            )
        )
        return [self._photo(int(group)) for group in groups]

    def _candidates(self, query: LocalFeatures) -> list[int]:
        """Group keys of the photos to verify: one vote per query keypoint and photo
        with a banked keypoint in its word whose signature is within
        ``SIGNATURE_DISTANCE``; the ``MAX_CANDIDATES`` with most votes, at least
        ``MIN_VOTES``."""
        if len(query) < MIN_INLIERS or not self._segments:
            return []
        # Here, not at the top: importing numba costs a third of a second, which commands
        # that never look up a photo should not pay (see lykta.index).
        from lykta.index import _kernels

        words = vocabulary().words(query.descriptors)
        signatures = _signatures(query.descriptors)
        counted_keys, counted_votes, voters, groups = [], [], [], []
        for (segment, ids), shared in zip(self._segments, self._shared, strict=True):
            keys, votes, keypoints, found = _kernels.segment_votes(
                segment.word_start,
                segment.posting_slots,
                segment.posting_signatures,
                segment.photo_of_slot,
                segment.photo_groups,
                shared,
                ids.dead,
                words,
                signatures,
                segment.full_word,
                SIGNATURE_DISTANCE,
                SPLIT_MASK,
                MIN_VOTES,
                MAX_CANDIDATES,
            )
            counted_keys.append(keys)
            counted_votes.append(votes)
            voters.append(keypoints)
            groups.append(found)
        best = _kernels.most_voted(
            np.concatenate(counted_keys),
            np.concatenate(counted_votes),
            np.concatenate(voters),
            np.concatenate(groups),
            len(query),
            MIN_VOTES,
            MAX_CANDIDATES,
        )
        return [int(group) for group in best]

    def _photo(self, group: int) -> tuple[LocalFeatures, list[int]]:
        """A banked photo's keypoints put back together from its live rows, and the ids
        of its first rows (one per copy)."""
        chunks: dict[int, Chunk] = {}
        numbered: list[tuple[int, int]] = []  # (chunk number, row id)
        for segment, ids in self._segments:
            for slot in segment.slots_of(group):
                if ids.n_dead and ids.is_dead(np.array([slot]))[0]:
                    continue
                chunk = Chunk.from_row(segment.row(slot))
                chunks.setdefault(chunk.number, chunk)
                numbered.append((chunk.number, int(ids.ids[slot])))
        first = min(chunks)
        return (
            LocalFeatures.from_chunks(list(chunks.values())),
            sorted(row for number, row in numbered if number == first),
        )

    def save(self, path: str | Path) -> None:
        arrays: dict[str, np.ndarray] = {}
        blocks = []
        for n, (segment, ids) in enumerate(self._segments):
            arrays.update(segment.arrays(f"s{n}_"))
            arrays[f"s{n}_ids"] = ids.ids
            arrays[f"s{n}_dead"] = ids.dead
            blocks.append(len(segment.blocks))
        save_dir(path, _KIND, {"blocks": blocks}, arrays, version=_FORMAT)

    @classmethod
    def load(cls, path: str | Path) -> Self:
        meta, _ = load_dir(path, _KIND, [], version=_FORMAT)
        index = cls()
        segments = []
        names = [
            name
            for n, blocks in enumerate(meta["blocks"])
            for name in (*_Segment.names(f"s{n}_", blocks), f"s{n}_ids", f"s{n}_dead")
        ]
        _, arrays = load_dir(path, _KIND, names, version=_FORMAT)
        for n, blocks in enumerate(meta["blocks"]):
            segment = _Segment.from_arrays(arrays, f"s{n}_", blocks)
            held = MainIds(arrays[f"s{n}_ids"], arrays[f"s{n}_dead"])
            segments.append((segment, held))
        index._replace(segments)
        return index


_KIND = "lykta.local_features"
_FORMAT = 4


def _live(ids: MainIds, rows: int) -> np.ndarray:
    mask = ids.live_mask()
    return np.arange(rows) if mask is None else np.flatnonzero(mask)


def _signatures(descriptors: np.ndarray) -> np.ndarray:
    """The first ``SIGNATURE_BITS`` of each descriptor (ORB orders its tests by how much
    they tell apart): filed beside its word to drop most unrelated keypoints in it."""
    table = np.ascontiguousarray(descriptors[:, : SIGNATURE_BITS // 8])
    return table.view("<u4").ravel()


def _parse(table: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's group key (uint64), and its keypoints' row and descriptors."""
    header = np.ascontiguousarray(table[:, _GROUP_BYTES:_CHUNK_HEADER]).view("<u2")
    numbers, counts = header[:, 0], header[:, 1]
    if np.any(numbers >= CHUNKS) or np.any(counts > CHUNK_KEYPOINTS):
        raise ValueError(
            f"a local-features row is one of {CHUNKS} and holds at most {CHUNK_KEYPOINTS} keypoints"
        )
    groups = np.ascontiguousarray(table[:, :_GROUP_BYTES]).view("<u8").ravel()
    descriptors = table[:, _CHUNK_HEADER + 4 * CHUNK_KEYPOINTS :].reshape(
        -1, CHUNK_KEYPOINTS, DESCRIPTOR_BYTES
    )
    held = np.arange(CHUNK_KEYPOINTS)[None, :] < counts[:, None]
    return groups, np.nonzero(held)[0], descriptors[held]


@dataclass(frozen=True, slots=True)
class _Segment:
    """Rows filed once and never changed: the banked rows themselves (in blocks, as
    added), each row's group key (sorted beside its slot, to find a photo's rows), and
    the postings: per word, the slots of the rows holding a keypoint in it with that
    keypoint's signature."""

    blocks: tuple[np.ndarray, ...]
    starts: np.ndarray  # int64: each block's first slot, then the row count
    groups: np.ndarray  # uint64 per slot
    sorted_groups: np.ndarray  # uint64, ascending
    group_slots: np.ndarray  # uint32: the slot of each sorted group key
    word_start: np.ndarray  # int64, WORDS + 1: each word's first posting
    posting_slots: np.ndarray  # uint32
    posting_signatures: np.ndarray  # uint32
    photo_groups: np.ndarray  # uint64, ascending: the group key of each photo in it
    photo_of_slot: np.ndarray  # uint32: the photo (in photo_groups) of each slot

    @property
    def rows(self) -> int:
        return int(self.starts[-1])

    @property
    def rows_nbytes(self) -> int:
        return sum(int(block.nbytes) for block in self.blocks)

    @property
    def retrieval_nbytes(self) -> int:
        return sum(
            int(array.nbytes)
            for array in (
                self.starts, self.groups, self.sorted_groups, self.group_slots,
                self.word_start, self.posting_slots, self.posting_signatures,
                self.photo_groups, self.photo_of_slot,
            )
        )  # fmt: skip

    @classmethod
    def of(cls, table: np.ndarray) -> _Segment:
        groups, slots, descriptors = _parse(table)
        return cls.filed(
            (table,), groups, vocabulary().words(descriptors), slots, _signatures(descriptors)
        )

    @classmethod
    def filed(
        cls,
        blocks: tuple[np.ndarray, ...],
        groups: np.ndarray,
        words: np.ndarray,
        slots: np.ndarray,
        signatures: np.ndarray,
    ) -> _Segment:
        order = np.lexsort((signatures & SPLIT_MASK, words))
        group_order = np.argsort(groups, kind="stable")
        photo_groups, photo_of_slot = np.unique(groups, return_inverse=True)
        return cls(
            blocks,
            np.cumsum([0, *(block.shape[0] for block in blocks)]).astype(np.int64),
            groups,
            groups[group_order],
            group_order.astype(np.uint32),
            np.searchsorted(words[order], np.arange(WORDS + 1)).astype(np.int64),
            slots[order].astype(np.uint32),
            signatures[order].astype(np.uint32),
            photo_groups.astype(np.uint64),
            photo_of_slot.astype(np.uint32),
        )

    def words(self) -> np.ndarray:
        """The word of each posting, in posting order."""
        return np.repeat(np.arange(WORDS, dtype=np.uint32), np.diff(self.word_start))

    @property
    def full_word(self) -> int:
        """Postings a word may hold and still vote. A word far fuller than an even spread
        would make it is a common pattern (flat areas, edges): its keypoints tell photos
        apart poorly and would cost most of the scan."""
        return max(STOP_MINIMUM, STOP_FACTOR * int(self.posting_slots.shape[0]) // WORDS)

    def slots_of(self, group: int) -> np.ndarray:
        key = np.uint64(group)
        low = int(np.searchsorted(self.sorted_groups, key, "left"))
        high = int(np.searchsorted(self.sorted_groups, key, "right"))
        return self.group_slots[low:high].astype(np.int64)

    def row(self, slot: int) -> np.ndarray:
        block = int(np.searchsorted(self.starts, slot, "right")) - 1
        row: np.ndarray = self.blocks[block][slot - int(self.starts[block])]
        return row

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {
            **{f"{prefix}rows{n}": block for n, block in enumerate(self.blocks)},
            f"{prefix}groups": self.groups,
            f"{prefix}sorted_groups": self.sorted_groups,
            f"{prefix}group_slots": self.group_slots,
            f"{prefix}word_start": self.word_start,
            f"{prefix}posting_slots": self.posting_slots,
            f"{prefix}posting_signatures": self.posting_signatures,
            f"{prefix}photo_groups": self.photo_groups,
            f"{prefix}photo_of_slot": self.photo_of_slot,
        }

    @staticmethod
    def names(prefix: str, blocks: int) -> list[str]:
        return [
            *(f"{prefix}rows{n}" for n in range(blocks)),
            *(f"{prefix}{name}" for name in _SEGMENT_ARRAYS),
        ]

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str, blocks: int) -> _Segment:
        rows = tuple(arrays[f"{prefix}rows{n}"] for n in range(blocks))
        return cls(
            rows,
            np.cumsum([0, *(block.shape[0] for block in rows)]).astype(np.int64),
            *(arrays[f"{prefix}{name}"] for name in _SEGMENT_ARRAYS),
        )


_SEGMENT_ARRAYS = (
    "groups", "sorted_groups", "group_slots", "word_start", "posting_slots",
    "posting_signatures", "photo_groups", "photo_of_slot",
)  # fmt: skip


def _join(parts: list[tuple[_Segment, MainIds]]) -> tuple[_Segment, MainIds]:
    """One segment of the live rows of ``parts``, in order. Postings are re-sorted, not
    re-quantised; a block with removed rows is copied without them, and small blocks are
    put together so a segment does not end as thousands of one-photo blocks."""
    blocks: list[np.ndarray] = []
    groups, words, slots, signatures, ids = [], [], [], [], []
    offset = 0
    for segment, held in parts:
        live = held.live_mask()
        keep = _live(held, segment.rows)
        new_slot = np.full(segment.rows, -1, np.int64)
        new_slot[keep] = offset + np.arange(keep.size)
        for n, block in enumerate(segment.blocks):
            if live is None:
                blocks.append(block)
            else:
                kept = live[segment.starts[n] : segment.starts[n + 1]]
                if kept.any():
                    blocks.append(block if kept.all() else block[kept])
        posted = new_slot[segment.posting_slots] >= 0
        groups.append(segment.groups[keep])
        words.append(segment.words()[posted])
        slots.append(new_slot[segment.posting_slots][posted])
        signatures.append(segment.posting_signatures[posted])
        ids.append(held.ids[keep].astype(np.int64))
        offset += keep.size
    if sum(block.shape[0] for block in blocks) <= DELTA_ROWS and len(blocks) > 1:
        blocks = [np.concatenate(blocks)]
    segment = _Segment.filed(
        tuple(blocks),
        np.concatenate(groups),
        np.concatenate(words),
        np.concatenate(slots),
        np.concatenate(signatures),
    )
    return segment, MainIds(narrow_ids(np.concatenate(ids)))


def verify(query: LocalFeatures, banked: LocalFeatures) -> Verified | None:
    """One candidate's geometric check: its inliers and the part of it the query shows, or
    None when it fails any part."""
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
    return Verified(inliers, _covered(homography, query, banked))


def _covered(homography: np.ndarray, query: LocalFeatures, banked: LocalFeatures) -> Box:
    """The box of the banked photo that the query's frame, carried back by the inverse
    homography, covers: (0, 0, 1, 1) when the query shows all of it (a screenshot, a
    copy with borders), less for a crop."""
    import cv2

    w, h = float(query.width), float(query.height)
    corners = np.array([[[0, 0]], [[w, 0]], [[w, h]], [[0, h]]], dtype=np.float64)
    inverse = np.linalg.inv(homography)
    if np.any(corners.reshape(-1, 2) @ inverse[2, :2] + inverse[2, 2] <= 0):
        # A query corner beyond the banked photo's horizon: that side reaches past it.
        return (0.0, 0.0, 1.0, 1.0)
    frame = cv2.perspectiveTransform(corners, inverse).reshape(-1, 2)
    size = np.array([banked.width, banked.height], dtype=np.float64)
    low = np.clip(frame.min(axis=0) / size, 0, 1)
    high = np.clip(frame.max(axis=0) / size, 0, 1)
    left, top, right, bottom = (round(float(v), 3) for v in (*low, *high))
    return (left, top, right, bottom)


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
