"""The matcher: in-memory indexes over every bank's hashes, judged by each bank's rules.

Look-ups never wait. Everything a look-up reads (the indexes, the owners of their hashes,
the bank rules, the search radius per kind) is one immutable `_Published` value that a
look-up takes by reference, so a look-up never reads the database.
One writer at a time (under `_write`) builds the next value from the change log on private
copies of the indexes and publishes it by swapping the reference. Slow work (merging an
index's delta into its tables, writing snapshots) runs on a copy in the follower thread,
outside that lock too; changes that land meanwhile are replayed onto the merged copy
before it is published.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from lykta.banks.validation import Threshold
from lykta.hashing.registry import get_hasher, hasher_names
from lykta.index import HashIndex
from lykta.index.local_features import Box, LocalFeatureIndex
from lykta.matching.changelog import Changes, count_additions, read_changes
from lykta.matching.owners import Owner, OwnerTable
from lykta.matching.results import LookupResult, Match, QueryHash
from lykta.matching.rules import BankRule, is_disabled, load_disabled, load_rules, search_radius
from lykta.matching.snapshots import SnapshotStore
from lykta.store.db import current_state

log = logging.getLogger(__name__)

SNAPSHOT_AFTER_CHANGES = 100_000
# A batch this large (a first load, a big import) is merged before it is published: the
# merge costs about as much as reading it, and an unmerged delta is scanned on every query.
MERGE_INLINE_AFTER = 50_000


@dataclass(frozen=True)
class _Published:
    instance_id: str
    revision: int
    indexes: Mapping[str, HashIndex]
    rules: Mapping[int, BankRule]
    radius: Mapping[str, int]
    # Who owns each indexed hash (content, bank, external id, labels).
    owners: OwnerTable = field(default_factory=OwnerTable)
    # Content switched off by HMA's `disable_until_ts` (see rules.load_disabled).
    disabled: Mapping[int, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Candidate:
    hash_id: int
    distance: int
    query: QueryHash
    content_index: int  # which of the looked-up contents the query belongs to
    covered: Box | None = None  # local features: the part of the banked photo shown


# One change replayed onto a merged copy: ids removed, or ids and codes added.
_Op = tuple[np.ndarray, np.ndarray | None]

_EMPTY = _Published("", -1, {}, {}, {})


class Matcher:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        snapshot_dir: Path | None = None,
        *,
        match_cap: int = 100,
    ) -> None:
        self._sessions = sessions
        self._snapshot_root = snapshot_dir
        self._snapshots: SnapshotStore | None = None
        self.match_cap = match_cap
        self._published = _EMPTY
        self._write = threading.Lock()
        # Changes applied while a kind's merge runs, replayed onto the merged copy.
        self._journal: dict[str, list[_Op]] = {}
        self._changes_since_snapshot = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # --- what look-ups see ----------------------------------------------------------------

    @property
    def revision(self) -> int:
        return max(self._published.revision, 0)

    def size(self) -> dict[str, int]:
        indexes = self._published.indexes
        return {
            hasher: len(indexes[hasher]) if hasher in indexes else 0 for hasher in hasher_names()
        }

    def bank_names(self) -> set[str]:
        return {rule.name for rule in self._published.rules.values()}

    def local_features_banks(self, banks: Iterable[str] | None = None) -> set[str]:
        """The enabled banks (of ``banks``, when given) that enable local features: a
        look-up extracts keypoints only when there are any."""
        wanted = None if banks is None else set(banks)
        return {
            rule.name
            for rule in self._published.rules.values()
            if rule.enabled and rule.local_features and (wanted is None or rule.name in wanted)
        }

    def partial_banks(self) -> dict[str, float]:
        """Enabled banks that only a share of HMA look-ups search: name to share."""
        return {
            rule.name: rule.enabled_ratio
            for rule in self._published.rules.values()
            if rule.enabled and rule.enabled_ratio is not None
        }

    # --- following the change log ---------------------------------------------------------

    def sync(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Apply every change committed since the last sync; returns how many were applied.

        `progress(done, total)` is told how many new hashes have been read, for a first
        load of millions.
        """
        with self._write:
            applied = self._sync(progress)
        if any(index.needs_merge() for index in self._published.indexes.values()):
            if self._thread is not None:
                self._wake.set()
            else:
                self.merge_pending()
        return applied

    def _sync(self, progress: Callable[[int, int], None] | None) -> int:
        current = self._published
        with self._sessions() as session:
            state = current_state(session)
            if state.instance_id != current.instance_id:
                current = self._fresh(state.instance_id)
            if state.revision == current.revision and current is self._published:
                return 0
            rules = load_rules(session)
            disabled = load_disabled(session)
            total = 0
            if progress is not None and state.revision > current.revision:
                total = count_additions(session, current.revision, state.revision)
        changes = Changes()
        if state.revision > current.revision:
            changes = read_changes(
                self._sessions,
                current.revision,
                state.revision,
                (lambda done: progress(done, total)) if progress else None,
            )
        indexes = dict(current.indexes)
        for kind in {*changes.removed, *changes.added}:
            index = indexes[kind].copy() if kind in indexes else get_hasher(kind).new_index()
            ops: list[_Op] = []
            if kind in changes.removed:
                ops.append((changes.removed[kind], None))
            if kind in changes.added:
                ids, codes = changes.added[kind]
                # Idempotent: a snapshot may already hold content from the replayed range.
                ops += [(ids, None), (ids, codes)]
            for op in ops:
                _apply(index, op)
            if kind in self._journal:
                self._journal[kind] += ops
            elif kind in changes.added and len(changes.added[kind][0]) >= MERGE_INLINE_AFTER:
                index.merge()
            indexes[kind] = index
        removed = list(changes.removed.values())
        owners = current.owners.changed(
            changes.owners,
            np.concatenate(removed) if removed else np.zeros(0, dtype=np.int64),
            merge=len(changes.owners) >= MERGE_INLINE_AFTER,
        )
        self._published = _Published(
            state.instance_id,
            state.revision,
            indexes,
            rules,
            search_radius(rules),
            owners,
            disabled,
        )
        self._changes_since_snapshot += changes.count
        return changes.count

    def _fresh(self, instance_id: str) -> _Published:
        """Start over for a database (first sync, or the database was replaced): from its
        snapshot when there is one, else empty at revision 0."""
        self._journal.clear()
        if self._snapshots is not None:
            self._snapshots.release()
        self._snapshots = None
        if self._snapshot_root is not None:
            self._snapshots = SnapshotStore(self._snapshot_root, instance_id)
            snapshot = self._snapshots.load()
            if snapshot is not None:
                log.info("loaded index snapshot at revision %d", snapshot.revision)
                return _Published(
                    instance_id, snapshot.revision, snapshot.indexes, {}, {}, snapshot.owners
                )
        return _Published(instance_id, 0, {}, {}, {})

    def merge_pending(self) -> None:
        """Merge every index whose delta has grown, each on a copy, and the owners when
        theirs has, outside the write lock."""
        for kind, index in list(self._published.indexes.items()):
            if index.needs_merge():
                self._merge(kind)
        if self._published.owners.needs_merge():
            self._merge_owners()

    def _merge_owners(self) -> None:
        base = self._published.owners
        merged = base.merged()
        with self._write:
            current = self._published
            rebased = merged.rebased(base, current.owners)
            # None: the database was replaced, or a big sync merged them, meanwhile.
            if rebased is not None:
                self._published = replace(current, owners=rebased)

    def _merge(self, kind: str) -> None:
        with self._write:
            if kind in self._journal or kind not in self._published.indexes:
                return
            instance = self._published.instance_id
            merged = self._published.indexes[kind].copy()
            journal: list[_Op] = []
            self._journal[kind] = journal
        try:
            merged.merge()
        except BaseException:
            # A merge that failed part-way (out of memory) leaves its copy half-merged: it
            # is dropped, and the next round merges afresh.
            with self._write:
                if self._journal.get(kind) is journal:
                    del self._journal[kind]
            raise
        with self._write:
            # Not ours when the database was replaced meanwhile (`_fresh` cleared it, and a
            # merge of the new one may have started): this merge is of an index now gone.
            if self._journal.get(kind) is not journal:
                return
            del self._journal[kind]
            current = self._published
            if current.instance_id == instance:
                for op in journal:
                    _apply(merged, op)
                self._published = replace(current, indexes={**current.indexes, kind: merged})

    def start(self, interval: float) -> None:
        """Follow the change log in a background thread until `stop()`; merges and
        snapshots are made there, never on a look-up's or a writer's path."""
        if self._thread is not None:
            return
        self._stop.clear()

        def run() -> None:
            while not self._stop.is_set():
                self._wake.wait(interval)
                self._wake.clear()
                if self._stop.is_set():
                    return
                try:
                    self.sync()
                    self.merge_pending()
                    self.snapshot_if_stale()
                except Exception:  # a database hiccup must not kill the follower
                    log.exception("change-log sync failed; retrying in %.1fs", interval)

        self._thread = threading.Thread(target=run, name="lykta-matcher-sync", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Ask the follower to sync now (after a write whose own sync failed)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        if self._snapshots is not None:
            self._snapshots.release()

    # --- snapshots ------------------------------------------------------------------------

    def snapshot_if_stale(self) -> None:
        """Write a snapshot once enough changes have been applied since the last one."""
        if self._changes_since_snapshot >= SNAPSHOT_AFTER_CHANGES:
            self.save_snapshot()

    def save_snapshot(self) -> Path | None:
        """Write the published indexes, if this process is the folder's snapshot writer."""
        store = self._snapshots
        if store is None or not store.claim_writer():
            return None
        published = self._published
        self._changes_since_snapshot = 0
        return store.save(published.revision, published.indexes, published.owners)

    # --- look-ups ------------------------------------------------------------------------

    def lookup(
        self, queries: Sequence[QueryHash], banks: Iterable[str] | None = None
    ) -> LookupResult:
        """Match one piece of content (all its hashes and variants) against the banks."""
        return self.lookup_many([queries], banks)[0]

    def lookup_many(
        self, contents: Sequence[Sequence[QueryHash]], banks: Iterable[str] | None = None
    ) -> list[LookupResult]:
        """Match several pieces of content with one index search per kind; from memory
        alone, so callers on an event loop may call it."""
        best: list[dict[int, Match]] = [{} for _ in contents]
        for content_index, match, _ in self._judged(contents, banks):
            held = best[content_index].get(match.content_id)
            if held is None or _rank(match) < _rank(held):
                best[content_index][match.content_id] = match
        return [self.result_of(matches.values()) for matches in best]

    def result_of(self, matches: Iterable[Match]) -> LookupResult:
        """One content's matches as a result: closest first, capped; a negative bank's
        match suppresses all the others."""
        result = LookupResult(match_cap=self.match_cap)
        ordered = sorted(matches, key=_order)
        negatives = [m for m in ordered if m.negative]
        chosen = negatives or ordered
        result.capped = len(chosen) > self.match_cap
        chosen = chosen[: self.match_cap]
        if negatives:
            result.suppressed_by = chosen
        else:
            result.matches = chosen
        return result

    def frame_hits(
        self, frames: Sequence[Sequence[QueryHash]], banks: Iterable[str] | None = None
    ) -> list[list[tuple[Match, float | None]]]:
        """Every match of each frame's queries under its bank's rule, not only the closest
        per content item, each with the time of the bank frame it matched (None for a
        photo or bare hash): what a video match is aggregated from."""
        judged = self._judged(frames, banks)
        hits: list[list[tuple[Match, float | None]]] = [[] for _ in frames]
        for frame_index, match, owner in judged:
            hits[frame_index].append((match, owner.seconds))
        return hits

    def threshold(self, bank: str, kind: str) -> Threshold | None:
        """A bank's rule for a similarity kind, as look-ups see it (None: no such bank)."""
        for rule in self._published.rules.values():
            if rule.name == bank:
                return rule.thresholds.get(kind)
        return None

    def _judged(
        self, contents: Sequence[Sequence[QueryHash]], banks: Iterable[str] | None
    ) -> list[tuple[int, Match, Owner]]:
        """(content index, match, owner) of every index candidate its bank's rule accepts."""
        state = self._published
        candidates = _candidates(state, contents)
        if not candidates:
            return []
        owners = state.owners.find([c.hash_id for c in candidates])
        wanted = set(banks) if banks is not None else None
        judged: list[tuple[int, Match, Owner]] = []
        for candidate in candidates:
            owner = owners.get(candidate.hash_id)
            if owner is None:  # deleted since the index was published
                continue
            match = _judge(candidate, owner, state, wanted)
            if match is not None:
                judged.append((candidate.content_index, match, owner))
        return judged


def _apply(index: HashIndex, op: _Op) -> None:
    ids, codes = op
    if codes is None:
        index.remove(ids)
    else:
        index.add(ids, codes)


def _candidates(state: _Published, contents: Sequence[Sequence[QueryHash]]) -> list[_Candidate]:
    out: list[_Candidate] = []
    by_kind: dict[str, list[tuple[int, QueryHash]]] = {}
    for number, queries in enumerate(contents):
        for query in queries:
            by_kind.setdefault(query.kind, []).append((number, query))
    for kind, tagged in by_kind.items():
        index = state.indexes.get(kind)
        if index is None or not len(index):
            continue
        codes = np.frombuffer(b"".join(q.value for _, q in tagged), dtype=np.uint8)
        codes = codes.reshape(len(tagged), -1)
        if isinstance(index, LocalFeatureIndex):
            # Verified matches: the distance is the inlier count, with the covered box.
            verified = index.query_verified(codes)
            for (number, query), found in zip(tagged, verified, strict=True):
                out.extend(
                    _Candidate(hash_id, match.inliers, query, number, match.covered)
                    for hash_id, match in found
                )
            continue
        hits = index.query(codes, state.radius.get(kind, 0))
        for (number, query), row in zip(tagged, hits, strict=True):
            out.extend(_Candidate(hash_id, distance, query, number) for hash_id, distance in row)
    return out


def _judge(
    candidate: _Candidate, owner: Owner, state: _Published, wanted: set[str] | None
) -> Match | None:
    """The match a candidate makes under its bank's rules, or None."""
    rule = state.rules.get(owner.bank_id)
    if rule is None or not rule.enabled:
        return None
    if state.disabled and is_disabled(state.disabled.get(owner.content_id), time.time()):
        return None
    query = candidate.query
    local = get_hasher(query.kind).local_features
    if local and not rule.local_features:
        return None
    threshold = rule.thresholds.get(query.kind)
    if threshold is not None:
        if candidate.distance > threshold.distance:
            return None
        floor = threshold.min_quality
        if floor is not None and query.quality is not None and query.quality < floor:
            return None
    if wanted is not None and rule.name not in wanted and not rule.negative:
        return None
    return Match(
        bank=rule.name,
        negative=rule.negative,
        content_id=owner.content_id,
        external_id=owner.external_id,
        labels=owner.labels,
        kind=query.kind,
        distance=candidate.distance,
        transform=query.transform,
        # Keypoints are 18 KB and say nothing to a reviewer: not echoed.
        query_hash="" if local else query.value.hex(),
        covered=candidate.covered,
    )


def _rank(match: Match) -> tuple[bool, int, bool, bool, str]:
    # One match per content item: the closest; on a tie an exact digest (the very file)
    # over a similarity hash, the untransformed query over a variant, then by kind name.
    # A local-features match (distance: inliers, more is closer) comes after all others.
    hasher = get_hasher(match.kind)
    distance = -match.distance if hasher.local_features else match.distance
    return (
        hasher.local_features, distance, hasher.similarity, match.transform != "original",
        match.kind,
    )  # fmt: skip


def _order(match: Match) -> tuple[bool, int, str, int]:
    """A result's order: closest first, local-features matches (most inliers first) last."""
    local = get_hasher(match.kind).local_features
    return (local, -match.distance if local else match.distance, match.bank, match.content_id)
