"""Banks and their content: create, change, import, export. Every write is one transaction
that stamps the change log, so every replica's matcher can follow it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from lykta.banks.formats import (
    MAX_EXTERNAL_ID,
    ExportRow,
    LineError,
    ParsedHash,
    labels_problem,
    text_problem,
)
from lykta.errors import Conflict, InvalidInput, NotFound
from lykta.store.db import next_revision
from lykta.store.models import Bank, BankContent, ContentTombstone, utcnow

BANK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
INSERT_CHUNK = 20_000
# Hash values per IN (...) query when checking for duplicates.
LOOKUP_CHUNK = 5_000

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class BankInfo:
    id: int
    name: str
    description: str
    source: str
    licence: str
    enabled: bool
    negative: bool
    pdq_distance: int
    pdq_min_quality: int
    created_at: datetime | None
    content_count: int = 0

    @classmethod
    def of(cls, bank: Bank, content_count: int = 0) -> BankInfo:
        return cls(
            bank.id,
            bank.name,
            bank.description,
            bank.source,
            bank.licence,
            bank.enabled,
            bank.negative,
            bank.pdq_distance,
            bank.pdq_min_quality,
            bank.created_at,
            content_count,
        )


@dataclass(frozen=True)
class ContentInfo:
    id: int
    bank: str
    kind: str
    value: str
    external_id: str | None
    labels: tuple[str, ...]
    added_at: datetime | None
    added_by: str


@dataclass
class ImportSummary:
    bank: str
    added: int = 0
    duplicates: int = 0
    skipped: list[LineError] = field(default_factory=list)
    content_ids: dict[tuple[str, str], int] = field(default_factory=dict)


class ImportAborted(InvalidInput):
    """A bad line stopped an import; nothing was written."""

    def __init__(self, error: LineError, source: str) -> None:
        super().__init__(f"{source}:{error.line}: {error.reason} (nothing imported)")
        self.line_error = error


def validate_bank_name(name: str) -> str:
    # fullmatch: `$` would let a trailing newline through, and a newline in a bank name
    # breaks the export's Content-Disposition header.
    if not BANK_NAME.fullmatch(name):
        raise InvalidInput(
            f"bad bank name {name!r}: use 1-128 letters, digits, '_', '-' or '.', "
            "starting with a letter or digit"
        )
    return name


def validate_distance(distance: int) -> int:
    if not 0 <= distance <= 256:
        raise InvalidInput(f"PDQ distance must be between 0 and 256, got {distance}")
    return distance


def validate_text(value: str, what: str) -> str:
    """A free-text field the database can store: no NUL, no lone surrogates."""
    problem = text_problem(value)
    if problem:
        raise InvalidInput(f"bad {what}: it {problem}")
    return value


def validate_row(row: ParsedHash) -> ParsedHash:
    """A hash row's external id and labels are storable (and the id short enough)."""
    if row.external_id is not None:
        if len(row.external_id) > MAX_EXTERNAL_ID:
            raise InvalidInput(
                f"external id {row.external_id[:40]!r}... is longer than {MAX_EXTERNAL_ID} "
                "characters"
            )
        problem = text_problem(row.external_id)
        if problem:
            raise InvalidInput(f"bad external id {row.external_id!r}: it {problem}")
    if row.labels:
        problem = labels_problem(row.labels)
        if problem:
            raise InvalidInput(f"bad {problem}")
    return row


def validate_quality(quality: int) -> int:
    if not 0 <= quality <= 100:
        raise InvalidInput(f"minimum PDQ quality must be between 0 and 100, got {quality}")
    return quality


class BankService:
    def __init__(self, sessions: sessionmaker[Session], on_change: Callable[[], None]) -> None:
        self._sessions = sessions
        # Called after every committed write so this process's matcher catches up at once.
        self._on_change = on_change

    # --- banks -------------------------------------------------------------------------

    def _bank(self, session: Session, name: str) -> Bank:
        # A name the database cannot even compare (PostgreSQL refuses NUL in text) names no
        # bank: answer so without asking it.
        if text_problem(name):
            raise NotFound(f"no bank named {name!r}")
        bank = session.scalars(select(Bank).where(Bank.name == name)).one_or_none()
        if bank is None:
            raise NotFound(f"no bank named {name!r}")
        return bank

    def create(
        self,
        name: str,
        *,
        description: str = "",
        source: str = "",
        licence: str = "",
        enabled: bool = True,
        negative: bool = False,
        pdq_distance: int = 31,
        pdq_min_quality: int = 50,
    ) -> BankInfo:
        validate_bank_name(name)
        validate_distance(pdq_distance)
        validate_quality(pdq_min_quality)
        for what, text in (("description", description), ("source", source), ("licence", licence)):
            validate_text(text, what)
        try:
            with self._sessions() as session, session.begin():
                # Bank rows carry no revision: bumping the counter is what tells replicas
                # to re-read bank settings (their search radius).
                next_revision(session)
                if session.scalars(select(Bank.id).where(Bank.name == name)).first():
                    raise Conflict(f"a bank named {name!r} exists already")
                bank = Bank(
                    name=name,
                    description=description,
                    source=source,
                    licence=licence,
                    enabled=enabled,
                    negative=negative,
                    pdq_distance=pdq_distance,
                    pdq_min_quality=pdq_min_quality,
                )
                session.add(bank)
                session.flush()
                info = BankInfo.of(bank)
        except IntegrityError:
            raise Conflict(f"a bank named {name!r} exists already") from None
        self._on_change()
        return info

    def get(self, name: str) -> BankInfo:
        with self._sessions() as session:
            bank = self._bank(session, name)
            return BankInfo.of(bank, _content_count(session, bank.id))

    def list(self) -> list[BankInfo]:
        with self._sessions() as session:
            counts = dict(
                session.execute(
                    select(BankContent.bank_id, func.count()).group_by(BankContent.bank_id)
                ).all()
            )
            banks = session.scalars(select(Bank).order_by(Bank.name)).all()
            return [BankInfo.of(bank, counts.get(bank.id, 0)) for bank in banks]

    def names(self) -> list[str]:
        with self._sessions() as session:
            return list(session.scalars(select(Bank.name)))

    def update(self, name: str, /, **changes: object) -> BankInfo:
        allowed = {
            "name", "description", "source", "licence", "enabled", "negative",
            "pdq_distance", "pdq_min_quality",
        }  # fmt: skip
        unknown = set(changes) - allowed
        if not changes:
            raise InvalidInput("nothing to change: name at least one bank field")
        if unknown:
            raise InvalidInput(f"cannot change {', '.join(sorted(unknown))} of a bank")
        if "name" in changes:
            validate_bank_name(str(changes["name"]))
        if "pdq_distance" in changes:
            validate_distance(int(changes["pdq_distance"]))  # type: ignore[call-overload]
        if "pdq_min_quality" in changes:
            validate_quality(int(changes["pdq_min_quality"]))  # type: ignore[call-overload]
        for what in ("description", "source", "licence"):
            if what in changes:
                validate_text(str(changes[what]), what)
        try:
            with self._sessions() as session, session.begin():
                next_revision(session)  # replicas re-read bank settings on a new revision
                bank = self._bank(session, name)
                new_name = changes.get("name")
                if new_name and new_name != name:
                    taken = session.scalars(select(Bank.id).where(Bank.name == new_name)).first()
                    if taken:
                        raise Conflict(f"a bank named {new_name!r} exists already")
                for key, value in changes.items():
                    setattr(bank, key, value)
                bank.updated_at = utcnow()
                session.flush()
                info = BankInfo.of(bank)
        except IntegrityError:
            raise Conflict(f"a bank named {changes.get('name')!r} exists already") from None
        self._on_change()
        return info

    def delete(self, name: str) -> None:
        with self._sessions() as session, session.begin():
            revision = next_revision(session)
            bank = self._bank(session, name)
            session.execute(
                insert(ContentTombstone).from_select(
                    ["content_id", "kind", "revision"],
                    select(BankContent.id, BankContent.kind, revision).where(
                        BankContent.bank_id == bank.id
                    ),
                )
            )
            session.execute(delete(BankContent).where(BankContent.bank_id == bank.id))
            session.delete(bank)
        self._on_change()

    # --- content -----------------------------------------------------------------------

    def add_hashes(
        self,
        bank_name: str,
        hashes: Iterable[ParsedHash],
        *,
        added_by: str = "",
        progress: Progress | None = None,
        return_ids: bool = False,
    ) -> ImportSummary:
        """Add hashes in one transaction; hashes already in the bank are counted, not added.

        With `return_ids`, the summary maps each given (kind, hash) to its content id,
        whether added now or already there (for callers adding a few hashes at a time).
        """
        rows = [validate_row(row) for row in hashes]
        summary = ImportSummary(bank_name)
        with self._sessions() as session, session.begin():
            revision = next_revision(session)
            bank = self._bank(session, bank_name)
            inserter = _RowInserter(session, progress, len(rows))
            fixed = (bank.id, added_by, revision)
            seen: set[tuple[str, bytes]] = set()
            # Read the whole bank when that is cheaper than probing its index per hash (a
            # big import into a small bank); probe when adding a few hashes to a big bank.
            whole_bank = _content_count(session, bank.id) <= 4 * len(rows)
            if whole_bank:
                seen = {
                    (kind, value)
                    for kind, value in session.execute(
                        select(BankContent.kind, BankContent.value).where(
                            BankContent.bank_id == bank.id
                        )
                    )
                }
            for start in range(0, len(rows), INSERT_CHUNK):
                chunk = [
                    (row, (row.kind, bytes.fromhex(row.value)))
                    for row in rows[start : start + INSERT_CHUNK]
                ]
                present = {} if whole_bank else _existing(session, bank.id, [k for _, k in chunk])
                for row, key in chunk:
                    if key in present or key in seen:
                        summary.duplicates += 1
                        continue
                    seen.add(key)
                    inserter.add(row, key[1], fixed)
            summary.added = inserter.finish()
            if return_ids:
                keys = list({(row.kind, bytes.fromhex(row.value)) for row in rows})
                summary.content_ids = {
                    (kind, value.hex()): content_id
                    for (kind, value), content_id in _existing(session, bank.id, keys).items()
                }
        if summary.added:
            self._on_change()
        return summary

    def import_parsed(
        self,
        bank_name: str,
        items: Iterable[ParsedHash | LineError],
        *,
        source: str,
        skip_invalid: bool = False,
        added_by: str = "",
        progress: Progress | None = None,
    ) -> ImportSummary:
        """Import parsed lines: the first bad line aborts with its number, unless skipping."""
        self.get(bank_name)  # a missing bank is reported before reading the whole file
        rows: list[ParsedHash] = []
        skipped: list[LineError] = []
        for item in items:
            if isinstance(item, LineError):
                if not skip_invalid:
                    raise ImportAborted(item, source)
                skipped.append(item)
            else:
                rows.append(item)
        summary = self.add_hashes(bank_name, rows, added_by=added_by, progress=progress)
        summary.skipped = skipped
        return summary

    def remove_content(self, bank_name: str, content_ids: Iterable[int]) -> int:
        ids = list(dict.fromkeys(int(i) for i in content_ids))
        with self._sessions() as session, session.begin():
            revision = next_revision(session)
            bank = self._bank(session, bank_name)
            found = session.execute(
                select(BankContent.id, BankContent.kind).where(
                    BankContent.bank_id == bank.id, BankContent.id.in_(ids)
                )
            ).all()
            missing = set(ids) - {row.id for row in found}
            if missing:
                shown = ", ".join(str(i) for i in sorted(missing)[:5])
                raise NotFound(f"bank {bank_name!r} has no content with id {shown}")
            session.execute(
                insert(ContentTombstone),
                [{"content_id": r.id, "kind": r.kind, "revision": revision} for r in found],
            )
            session.execute(delete(BankContent).where(BankContent.id.in_(ids)))
        self._on_change()
        return len(found)

    def get_content(self, bank_name: str, content_id: int) -> ContentInfo:
        with self._sessions() as session:
            bank = self._bank(session, bank_name)
            row = session.get(BankContent, content_id)
            if row is None or row.bank_id != bank.id:
                raise NotFound(f"bank {bank_name!r} has no content with id {content_id}")
            return _content_info(row, bank.name)

    def list_content(
        self, bank_name: str, *, after_id: int = 0, limit: int = 100
    ) -> list[ContentInfo]:
        if not 1 <= limit <= 10_000:
            raise InvalidInput("limit must be between 1 and 10000")
        with self._sessions() as session:
            bank = self._bank(session, bank_name)
            rows = session.scalars(
                select(BankContent)
                .where(BankContent.bank_id == bank.id, BankContent.id > after_id)
                .order_by(BankContent.id)
                .limit(limit)
            ).all()
            return [_content_info(row, bank.name) for row in rows]

    def export(self, bank_name: str, batch: int = 10_000) -> Iterator[ExportRow]:
        """Stream a bank's content in id order without holding it all in memory."""
        with self._sessions() as session:
            bank_id = self._bank(session, bank_name).id
        after = 0
        while True:
            with self._sessions() as session:
                rows = session.execute(
                    select(
                        BankContent.id,
                        BankContent.kind,
                        BankContent.value,
                        BankContent.external_id,
                        BankContent.labels_json,
                    )
                    .where(BankContent.bank_id == bank_id, BankContent.id > after)
                    .order_by(BankContent.id)
                    .limit(batch)
                ).all()
            if not rows:
                return
            for row in rows:
                labels = tuple(json.loads(row.labels_json))
                yield ExportRow(row.kind, row.value.hex(), row.external_id, labels)
            after = rows[-1].id


def _content_count(session: Session, bank_id: int) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(BankContent).where(BankContent.bank_id == bank_id)
        )
        or 0
    )


def _existing(
    session: Session, bank_id: int, keys: list[tuple[str, bytes]]
) -> dict[tuple[str, bytes], int]:
    """Content ids of those (kind, value) pairs the bank already holds."""
    found: dict[tuple[str, bytes], int] = {}
    for start in range(0, len(keys), LOOKUP_CHUNK):
        values = [value for _, value in keys[start : start + LOOKUP_CHUNK]]
        rows = session.execute(
            select(BankContent.kind, BankContent.value, BankContent.id).where(
                BankContent.bank_id == bank_id, BankContent.value.in_(values)
            )
        )
        found.update(((kind, value), content_id) for kind, value, content_id in rows)
    return found


class _RowInserter:
    """Writes content rows in large executemany batches straight to the driver: an import
    of a million hashes spends its time in the database, not in per-row ORM work."""

    COLUMNS = (
        "bank_id", "added_by", "revision", "kind", "value", "external_id", "labels", "added_at",
    )  # fmt: skip

    def __init__(self, session: Session, progress: Progress | None, total: int) -> None:
        self._connection = session.connection()
        dialect = self._connection.dialect
        marker = "?" if dialect.paramstyle == "qmark" else "%s"
        self._sql = (
            f"INSERT INTO bank_content ({', '.join(self.COLUMNS)}) "
            f"VALUES ({', '.join([marker] * len(self.COLUMNS))})"
        )
        to_db = BankContent.__table__.c.added_at.type.bind_processor(dialect)
        now = utcnow()
        self._now = to_db(now) if to_db else now
        self._labels: dict[tuple[str, ...], str] = {}
        self._pending: list[tuple[object, ...]] = []
        self._written = 0
        self._progress = progress
        self._total = total

    def add(self, row: ParsedHash, value: bytes, fixed: tuple[object, ...]) -> None:
        labels = self._labels.get(row.labels)
        if labels is None:
            labels = self._labels.setdefault(row.labels, json.dumps(list(row.labels)))
        self._pending.append((*fixed, row.kind, value, row.external_id, labels, self._now))
        if len(self._pending) >= INSERT_CHUNK:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._connection.exec_driver_sql(self._sql, self._pending)
            self._written += len(self._pending)
            self._pending = []
        if self._progress:
            self._progress(self._written, self._total)

    def finish(self) -> int:
        self._flush()
        return self._written


def _content_info(row: BankContent, bank_name: str) -> ContentInfo:
    return ContentInfo(
        row.id,
        bank_name,
        row.kind,
        row.value.hex(),
        row.external_id,
        tuple(row.labels),
        row.added_at,
        row.added_by,
    )
