"""The matcher: in-memory indexes over every bank's hashes, kept current from the change log.

The indexes only propose candidates. Whether a candidate is a match is decided from the
database at look-up time (bank enabled, its distance and quality thresholds, content not
deleted), so such changes apply on the very next look-up; the indexes themselves follow
the change log incrementally, in this process at once and in other replicas within the
sync interval.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Row, Table, func, select
from sqlalchemy.orm import Session, sessionmaker

from lykta.index import ExactIndex, HammingIndex
from lykta.store.db import current_state
from lykta.store.models import Bank, BankContent, ContentTombstone

log = logging.getLogger(__name__)

PDQ_BYTES = 32
EXACT_BYTES = {"md5": 16, "sha256": 32}
SYNC_BATCH = 200_000
SNAPSHOT_AFTER_CHANGES = 100_000
# Candidate ids per IN (...) query: well inside every database's parameter limits.
ROWS_PER_QUERY = 5_000


@dataclass(frozen=True)
class QueryHash:
    """One hash of the content being checked, and how it was derived from the content."""

    kind: str
    value: bytes
    transform: str = "original"
    quality: int | None = None


@dataclass(frozen=True)
class Match:
    bank: str
    negative: bool
    content_id: int
    external_id: str | None
    labels: tuple[str, ...]
    kind: str
    hash: str
    distance: int
    transform: str
    query_hash: str


@dataclass
class LookupResult:
    matches: list[Match] = field(default_factory=list)
    # Matches in negative banks: when present, `matches` is empty on purpose.
    suppressed_by: list[Match] = field(default_factory=list)


@dataclass(frozen=True)
class _Candidate:
    content_id: int
    distance: int
    query: QueryHash
    content_index: int  # which of the looked-up contents the query belongs to


class Matcher:
    def __init__(self, sessions: sessionmaker[Session], snapshot_dir: Path | None = None) -> None:
        self._sessions = sessions
        self._snapshot_root = snapshot_dir
        self._lock = threading.RLock()
        self._pdq = HammingIndex()
        self._exact = {kind: ExactIndex(size) for kind, size in EXACT_BYTES.items()}
        self._revision = 0
        self._instance_id = ""
        self._radius = 31
        self._changes_since_snapshot = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- following the change log -------------------------------------------------------

    @property
    def revision(self) -> int:
        return self._revision

    def size(self) -> dict[str, int]:
        with self._lock:
            return {"pdq": len(self._pdq)} | {k: len(i) for k, i in self._exact.items()}

    def sync(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Apply every change committed since the last sync; returns how many were applied.

        `progress(done, total)` is told how many new hashes have been read, for a first
        load of millions.
        """
        with self._sessions() as session:
            state = current_state(session)
            if state.instance_id != self._instance_id:
                self._reset(state.instance_id)
            if state.revision == self._revision:
                return 0
            target = state.revision
            radius = session.scalar(
                select(func.max(Bank.pdq_distance)).where(Bank.enabled.is_(True))
            )
            total = 0
            if progress is not None:
                total = (
                    session.scalar(
                        select(func.count())
                        .select_from(BankContent)
                        .where(
                            BankContent.revision > self._revision, BankContent.revision <= target
                        )
                    )
                    or 0
                )
        applied = 0
        with self._lock:
            if target <= self._revision:  # another thread caught up while we waited
                return 0
            applied += self._apply_tombstones(self._revision, target)
            applied += self._apply_additions(
                self._revision, target, (lambda done: progress(done, total)) if progress else None
            )
            self._revision = target
            self._radius = min(256, radius if radius is not None else 31)
            self._changes_since_snapshot += applied
        return applied

    def _reset(self, instance_id: str) -> None:
        with self._lock:
            self._instance_id = instance_id
            self._revision = 0
            self._pdq = HammingIndex()
            self._exact = {kind: ExactIndex(size) for kind, size in EXACT_BYTES.items()}
            self._load_snapshot()

    def _log_pages(
        self, table: Table, id_column: str, columns: Sequence[str], after: int, upto: int
    ) -> Iterator[Sequence[Row[Any]]]:
        """Rows with `after < revision <= upto`, in (revision, id) order, a page at a time.

        Each page is one index range scan: within a revision it continues after the last
        id seen, then moves on to later revisions. (A row-value `(revision, id) > (r, i)`
        would make SQLite scan a huge single revision from its start on every page.)
        """
        revision, row_id = table.c.revision, table.c[id_column]
        selected = [revision, row_id, *(table.c[name] for name in columns)]
        current, last_id = after, None
        while True:
            if last_id is None:
                where = (revision > current) & (revision <= upto)
                order = (revision, row_id)
            else:
                where = (revision == current) & (row_id > last_id)
                order = (row_id,)
            with self._sessions() as session:
                rows = (
                    session.connection()
                    .execute(select(*selected).where(where).order_by(*order).limit(SYNC_BATCH))
                    .all()
                )
            if rows:
                yield rows
                current, last_id = rows[-1][0], rows[-1][1]
            elif last_id is None:
                return
            else:
                last_id = None

    def _apply_tombstones(self, after: int, upto: int) -> int:
        # Tombstones go first: an id re-used later in the range is then added back.
        count = 0
        table = ContentTombstone.__table__
        for rows in self._log_pages(table, "content_id", ["kind"], after, upto):
            for kind in ("pdq", *EXACT_BYTES):
                ids = np.array([r[1] for r in rows if r[2] == kind], dtype=np.int64)
                if len(ids):
                    self._index(kind).remove(ids)
            count += len(rows)
        return count

    def _apply_additions(
        self, after: int, upto: int, progress: Callable[[int], None] | None = None
    ) -> int:
        # Rows are read as plain tuples (no ORM objects) and added to each index once, so
        # loading millions of hashes costs one merge, not many.
        ids: dict[str, list[int]] = {}
        values: dict[str, list[bytes]] = {}
        table = BankContent.__table__
        read = 0
        for rows in self._log_pages(table, "id", ["kind", "value"], after, upto):
            for _, content_id, kind, value in rows:
                ids.setdefault(kind, []).append(content_id)
                values.setdefault(kind, []).append(value)
            read += len(rows)
            if progress:
                progress(read)
        for kind, kind_ids in ids.items():
            index = self._index(kind)
            id_array = np.array(kind_ids, dtype=np.int64)
            codes = np.frombuffer(b"".join(values[kind]), dtype=np.uint8)
            # Idempotent: a snapshot may already hold content from the replayed range.
            index.remove(id_array)
            index.add(id_array, codes.reshape(len(kind_ids), -1))
        return sum(len(kind_ids) for kind_ids in ids.values())

    def _index(self, kind: str) -> HammingIndex | ExactIndex:
        return self._pdq if kind == "pdq" else self._exact[kind]

    def start(self, interval: float) -> None:
        """Follow the change log in a background thread until `stop()`."""
        if self._thread is not None:
            return
        self._stop.clear()

        def run() -> None:
            while not self._stop.wait(interval):
                try:
                    self.sync()
                    # Snapshots are written here, never on a request's path.
                    self.snapshot_if_stale()
                except Exception:  # a database hiccup must not kill the follower
                    log.exception("change-log sync failed; retrying in %.1fs", interval)

        self._thread = threading.Thread(target=run, name="lykta-matcher-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # --- snapshots ------------------------------------------------------------------------

    def _snapshot_dir(self) -> Path | None:
        if self._snapshot_root is None or not self._instance_id:
            return None
        return self._snapshot_root / self._instance_id

    def snapshot_if_stale(self) -> None:
        """Write a snapshot once enough changes have been applied since the last one."""
        if self._snapshot_root and self._changes_since_snapshot >= SNAPSHOT_AFTER_CHANGES:
            self.save_snapshot()

    def save_snapshot(self) -> Path | None:
        """Write the indexes so the next start maps them instead of reading every hash."""
        base = self._snapshot_dir()
        if base is None:
            return None
        with self._lock:
            target = base / f"r{self._revision}"
            if not target.exists():
                tmp = base / f".tmp-{os.getpid()}-{threading.get_ident()}"
                shutil.rmtree(tmp, ignore_errors=True)
                tmp.mkdir(parents=True)
                self._pdq.save(tmp / "pdq")
                for kind, index in self._exact.items():
                    index.save(tmp / kind)
                (tmp / "state.json").write_text(json.dumps({"revision": self._revision}))
                try:
                    tmp.rename(target)
                except OSError:  # another worker wrote the same revision first
                    shutil.rmtree(tmp, ignore_errors=True)
            pointer = base / "current"
            pointer_tmp = base / f".current-{os.getpid()}"
            pointer_tmp.write_text(target.name)
            pointer_tmp.replace(pointer)
            self._changes_since_snapshot = 0
        for old in base.glob("r*"):
            # Only older revisions: another worker may just have pointed `current` at a
            # newer one. Safe while others map it: unlinked mapped files stay alive.
            if old.name[1:].isdigit() and int(old.name[1:]) < self._revision:
                shutil.rmtree(old, ignore_errors=True)
        return target

    def _load_snapshot(self) -> None:
        base = self._snapshot_dir()
        if base is None:
            return
        try:
            name = (base / "current").read_text().strip()
        except FileNotFoundError:
            return
        folder = base / name
        try:
            revision = json.loads((folder / "state.json").read_text())["revision"]
            pdq = HammingIndex.load(folder / "pdq")
            exact = {kind: ExactIndex.load(folder / kind) for kind in EXACT_BYTES}
        except (OSError, ValueError, KeyError) as error:
            # An older format or a damaged snapshot: drop it; the log rebuilds the index and
            # the next snapshot replaces it.
            log.warning("ignoring index snapshot %s: %s", folder, error)
            shutil.rmtree(folder, ignore_errors=True)
            return
        self._pdq, self._exact, self._revision = pdq, exact, int(revision)
        log.info("loaded index snapshot at revision %d (%d PDQ hashes)", revision, len(pdq))

    # --- look-ups ------------------------------------------------------------------------

    def lookup(
        self, queries: Sequence[QueryHash], banks: Iterable[str] | None = None
    ) -> LookupResult:
        """Match one piece of content (all its hashes and variants) against the banks."""
        return self.lookup_many([queries], banks)[0]

    def lookup_many(
        self, contents: Sequence[Sequence[QueryHash]], banks: Iterable[str] | None = None
    ) -> list[LookupResult]:
        """Match several pieces of content with one index search and one database read."""
        candidates = self._candidates(contents)
        results = [LookupResult() for _ in contents]
        if not candidates:
            return results
        found = self._rows({c.content_id for c in candidates})
        wanted = set(banks) if banks is not None else None
        best: list[dict[int, Match]] = [{} for _ in contents]
        for candidate in candidates:
            pair = found.get(candidate.content_id)
            if pair is None:
                continue
            content, bank = pair
            query = candidate.query
            if content.kind == "pdq":
                if candidate.distance > bank.pdq_distance:
                    continue
                if query.quality is not None and query.quality < bank.pdq_min_quality:
                    continue
            if wanted is not None and bank.name not in wanted and not bank.negative:
                continue
            match = Match(
                bank=bank.name,
                negative=bank.negative,
                content_id=content.id,
                external_id=content.external_id,
                labels=content.labels,
                kind=content.kind,
                hash=content.value.hex(),
                distance=candidate.distance,
                transform=query.transform,
                query_hash=query.value.hex(),
            )
            held = best[candidate.content_index].get(content.id)
            if held is None or _rank(match) < _rank(held):
                best[candidate.content_index][content.id] = match
        for result, matches in zip(results, best, strict=True):
            ordered = sorted(matches.values(), key=lambda m: (m.distance, m.bank, m.content_id))
            negatives = [m for m in ordered if m.negative]
            if negatives:
                result.suppressed_by = negatives
            else:
                result.matches = ordered
        return results

    def _rows(self, ids: set[int]) -> dict[int, tuple[BankContent, Bank]]:
        """The candidate rows still present, in enabled banks, read fresh from the database."""
        ordered = sorted(ids)
        found: dict[int, tuple[BankContent, Bank]] = {}
        with self._sessions() as session:
            for start in range(0, len(ordered), ROWS_PER_QUERY):
                rows = session.execute(
                    select(BankContent, Bank)
                    .join(Bank, Bank.id == BankContent.bank_id)
                    .where(
                        BankContent.id.in_(ordered[start : start + ROWS_PER_QUERY]),
                        Bank.enabled.is_(True),
                    )
                ).all()
                found.update((content.id, (content, bank)) for content, bank in rows)
        return found

    def _candidates(self, contents: Sequence[Sequence[QueryHash]]) -> list[_Candidate]:
        out: list[_Candidate] = []
        tagged = [(i, q) for i, queries in enumerate(contents) for q in queries]
        with self._lock:
            for kind, index in (("pdq", self._pdq), *self._exact.items()):
                of_kind = [(i, q) for i, q in tagged if q.kind == kind]
                if not of_kind or not len(index):
                    continue
                width = PDQ_BYTES if kind == "pdq" else EXACT_BYTES[kind]
                codes = np.frombuffer(b"".join(q.value for _, q in of_kind), dtype=np.uint8)
                codes = codes.reshape(len(of_kind), width)
                if isinstance(index, HammingIndex):
                    hits = index.search(codes, self._radius)
                    for (i, query), row in zip(of_kind, hits, strict=True):
                        out.extend(_Candidate(c, d, query, i) for c, d in row)
                else:
                    for (i, query), ids in zip(of_kind, index.search(codes), strict=True):
                        out.extend(_Candidate(c, 0, query, i) for c in ids)
        return out


def _rank(match: Match) -> tuple[int, int]:
    # Prefer the closest match, and the untransformed content when distances tie.
    return (match.distance, 0 if match.transform == "original" else 1)
