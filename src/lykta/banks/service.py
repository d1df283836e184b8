"""Banks and their content: create, change, import, export. Every write is one transaction
that stamps the change log, so every replica's matcher can follow it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from lykta.banks.content import ContentWriter, existing_owners, read_items
from lykta.banks.formats import LineError, text_problem
from lykta.banks.items import ContentItem
from lykta.banks.validation import (
    Threshold,
    default_thresholds,
    threshold_changes,
    threshold_of,
    validate_bank_name,
    validate_item,
    validate_text,
)
from lykta.errors import Conflict, InvalidInput, NotFound
from lykta.hashing.registry import get_hasher
from lykta.store.db import next_revision
from lykta.store.models import Bank, BankThreshold, Content, ContentHash, HashTombstone, utcnow

Progress = Callable[[int, int], None]
#: Told what changed after each committed write: (bank name, change).
ChangeListener = Callable[[str, str], None]

BANK_FIELDS = (
    "name", "description", "source", "licence", "enabled", "negative", "enabled_ratio",
    "local_features",
)  # fmt: skip


@dataclass(frozen=True)
class BankInfo:
    id: int
    name: str
    description: str
    source: str
    licence: str
    enabled: bool
    negative: bool
    thresholds: dict[str, Threshold]
    created_at: datetime | None
    content_count: int = 0
    enabled_ratio: float | None = None
    local_features: bool = False


@dataclass(frozen=True)
class ContentInfo:
    id: int
    bank: str
    external_id: str | None
    labels: tuple[str, ...]
    media_kind: str | None
    duration: float | None
    added_at: datetime | None
    added_by: str
    item: ContentItem
    note: str | None = None
    disable_until_ts: int | None = None


@dataclass
class ImportSummary:
    bank: str
    added: int = 0
    duplicates: int = 0
    skipped: list[LineError] = field(default_factory=list)
    #: The id of each given item, in order: new, or the one the bank already held (left
    #: empty for file imports).
    content_ids: list[int] = field(default_factory=list)


class ImportAborted(InvalidInput):
    """A bad line stopped an import; nothing was written."""

    def __init__(self, error: LineError, source: str) -> None:
        super().__init__(f"{source}:{error.line}: {error.reason} (nothing imported)")
        self.line_error = error


class BankService:
    def __init__(self, sessions: sessionmaker[Session], on_change: ChangeListener) -> None:
        self._sessions = sessions
        # Called after every committed write so this process's matcher catches up at once.
        self._on_change = on_change

    # --- banks -------------------------------------------------------------------------

    def _bank(self, session: Session, name: str) -> Bank:
        # A name the database cannot even compare (PostgreSQL refuses NUL in text) names no
        # bank: answer so without asking it.
        if not isinstance(name, str) or text_problem(name):
            raise NotFound(f"no bank named {name!r}")
        bank = session.scalars(select(Bank).where(Bank.name == name)).one_or_none()
        if bank is None:
            raise NotFound(f"no bank named {name!r}")
        return bank

    def _info(self, session: Session, bank: Bank, content_count: int | None = None) -> BankInfo:
        thresholds = default_thresholds()
        for row in session.scalars(select(BankThreshold).where(BankThreshold.bank_id == bank.id)):
            thresholds[row.kind] = threshold_of(row)
        if content_count is None:
            content_count = _content_count(session, bank.id)
        return BankInfo(
            bank.id, bank.name, bank.description, bank.source, bank.licence, bank.enabled,
            bank.negative, thresholds, bank.created_at, content_count, bank.enabled_ratio,
            bank.local_features,
        )  # fmt: skip

    def create(self, name: str, **fields: Any) -> BankInfo:
        """Create a bank from ``BANK_FIELDS`` and thresholds (see ``threshold_changes``)."""
        thresholds = threshold_changes(fields, default_thresholds())
        values = _bank_fields({"name": name, **fields})
        try:
            with self._sessions() as session, session.begin():
                # Bank rows carry no revision: bumping the counter is what tells replicas
                # to re-read bank settings.
                next_revision(session)
                if session.scalars(select(Bank.id).where(Bank.name == name)).first():
                    raise Conflict(f"a bank named {name!r} exists already")
                bank = Bank(**values)
                session.add(bank)
                session.flush()
                _store_thresholds(session, bank.id, thresholds)
                info = self._info(session, bank, 0)
        except IntegrityError:
            raise Conflict(f"a bank named {name!r} exists already") from None
        self._on_change(name, "created")
        return info

    def get(self, name: str) -> BankInfo:
        with self._sessions() as session:
            return self._info(session, self._bank(session, name))

    def list_banks(self) -> list[BankInfo]:
        with self._sessions() as session:
            counts = dict(
                session.execute(
                    select(Content.bank_id, func.count()).group_by(Content.bank_id)
                ).all()
            )
            banks = session.scalars(select(Bank).order_by(Bank.name)).all()
            return [self._info(session, bank, counts.get(bank.id, 0)) for bank in banks]

    def names(self) -> list[str]:
        with self._sessions() as session:
            return list(session.scalars(select(Bank.name)))

    def update(self, name: str, /, **changes: Any) -> BankInfo:
        if not changes:
            raise InvalidInput("nothing to change: name at least one bank field")
        new_name = changes.get("name", name)
        try:
            with self._sessions() as session, session.begin():
                next_revision(session)  # replicas re-read bank settings on a new revision
                bank = self._bank(session, name)
                # Read under the change-log lock: a concurrent update's thresholds must not
                # be written back over with the values read before it committed.
                current = self._info(session, bank, 0).thresholds
                thresholds = threshold_changes(changes, current)
                values = _bank_fields(changes)
                if new_name != name:
                    taken = session.scalars(select(Bank.id).where(Bank.name == new_name)).first()
                    if taken:
                        raise Conflict(f"a bank named {new_name!r} exists already")
                for key, value in values.items():
                    setattr(bank, key, value)
                bank.updated_at = utcnow()
                session.flush()
                _store_thresholds(session, bank.id, thresholds)
                info = self._info(session, bank)
        except IntegrityError:
            raise Conflict(f"a bank named {new_name!r} exists already") from None
        self._on_change(new_name, "updated")
        return info

    def delete(self, name: str) -> None:
        with self._sessions() as session, session.begin():
            revision = next_revision(session)
            bank = self._bank(session, name)
            _tombstone(session, revision, ContentHash.bank_id == bank.id)
            session.execute(delete(ContentHash).where(ContentHash.bank_id == bank.id))
            session.execute(delete(Content).where(Content.bank_id == bank.id))
            session.execute(delete(BankThreshold).where(BankThreshold.bank_id == bank.id))
            session.delete(bank)
        self._on_change(name, "deleted")

    # --- content -----------------------------------------------------------------------

    def add_content(
        self,
        bank_name: str,
        items: Iterable[ContentItem],
        *,
        added_by: str = "",
        progress: Progress | None = None,
    ) -> ImportSummary:
        """Add items in one transaction. An item whose every hash the bank already holds
        under one content item is a duplicate: counted, not added, its id returned."""
        items = [validate_item(item) for item in items]
        summary = ImportSummary(bank_name)
        with self._sessions() as session, session.begin():
            revision = next_revision(session)
            bank = self._bank(session, bank_name)
            keys = [_keys(item) for item in items]
            owners = existing_owners(session, bank.id, keys)
            writer = ContentWriter(session, bank.id, added_by, revision, progress, len(items))
            # Earlier items of this very import, so a repeat inside one file is a duplicate.
            this_import: dict[frozenset[tuple[str, bytes]], int] = {}
            slots: list[int] = []  # per item: its slot in the writer
            for item, item_keys in zip(items, keys, strict=True):
                owner = _common_owner(owners, item_keys) if owners else None
                key = frozenset(item_keys)
                if owner is not None:
                    summary.duplicates += 1
                    slots.append(writer.known(owner))
                elif key in this_import:
                    summary.duplicates += 1
                    slots.append(this_import[key])
                else:
                    slot = writer.add(item, item_keys)
                    this_import[key] = slot
                    slots.append(slot)
            summary.added = writer.finish()
            summary.content_ids = [writer.content_id(slot) for slot in slots]
        if summary.added:
            self._on_change(bank_name, "content_added")
        return summary

    def import_parsed(
        self,
        bank_name: str,
        items: Iterable[ContentItem | LineError],
        *,
        source: str,
        skip_invalid: bool = False,
        added_by: str = "",
        progress: Progress | None = None,
    ) -> ImportSummary:
        """Import parsed lines: the first bad line aborts with its number, unless skipping."""
        self.get(bank_name)  # a missing bank is reported before reading the whole file
        good: list[ContentItem] = []
        skipped: list[LineError] = []
        for item in items:
            if isinstance(item, LineError):
                if not skip_invalid:
                    raise ImportAborted(item, source)
                skipped.append(item)
            else:
                good.append(item)
        summary = self.add_content(bank_name, good, added_by=added_by, progress=progress)
        summary.skipped = skipped
        # A file of a million lines would answer with a million ids no caller reads.
        summary.content_ids = []
        return summary

    def remove_content(self, bank_name: str, content_ids: Iterable[int]) -> int:
        ids = list(dict.fromkeys(int(i) for i in content_ids))
        with self._sessions() as session, session.begin():
            revision = next_revision(session)
            bank = self._bank(session, bank_name)
            found = set(
                session.scalars(
                    select(Content.id).where(Content.bank_id == bank.id, Content.id.in_(ids))
                )
            )
            missing = set(ids) - found
            if missing:
                shown = ", ".join(str(i) for i in sorted(missing)[:5])
                raise NotFound(f"bank {bank_name!r} has no content with id {shown}")
            _tombstone(session, revision, ContentHash.content_id.in_(ids))
            session.execute(delete(ContentHash).where(ContentHash.content_id.in_(ids)))
            session.execute(delete(Content).where(Content.id.in_(ids)))
        self._on_change(bank_name, "content_removed")
        return len(found)

    def get_content(self, bank_name: str, content_id: int) -> ContentInfo:
        with self._sessions() as session:
            bank = self._bank(session, bank_name)
            row = session.get(Content, content_id)
            if row is None or row.bank_id != bank.id:
                raise NotFound(f"bank {bank_name!r} has no content with id {content_id}")
            [item] = read_items(session, [row])
            return _content_info(row, bank.name, item)

    def update_content(self, bank_name: str, content_id: int, **changes: Any) -> ContentInfo:
        """Change a content item's ``note`` or ``disable_until_ts`` (HMA's fields)."""
        unknown = set(changes) - {"note", "disable_until_ts"}
        if unknown:
            raise InvalidInput(f"cannot set {', '.join(sorted(unknown))} of content")
        if changes.get("note") is not None:
            validate_text(changes["note"], "note")
        with self._sessions() as session, session.begin():
            # A new revision makes every replica's matcher re-read which content is disabled.
            next_revision(session)
            bank = self._bank(session, bank_name)
            row = session.get(Content, content_id)
            if row is None or row.bank_id != bank.id:
                raise NotFound(f"bank {bank_name!r} has no content with id {content_id}")
            for key, value in changes.items():
                setattr(row, key, value)
            session.flush()
            [item] = read_items(session, [row])
            info = _content_info(row, bank.name, item)
        self._on_change(bank_name, "content_updated")
        return info

    def list_content(
        self, bank_name: str, *, after_id: int = 0, limit: int = 100
    ) -> list[ContentInfo]:
        if not 1 <= limit <= 10_000:
            raise InvalidInput("limit must be between 1 and 10000")
        with self._sessions() as session:
            bank = self._bank(session, bank_name)
            rows = session.scalars(
                select(Content)
                .where(Content.bank_id == bank.id, Content.id > after_id)
                .order_by(Content.id)
                .limit(limit)
            ).all()
            items = read_items(session, rows)
            return [
                _content_info(row, bank.name, item) for row, item in zip(rows, items, strict=True)
            ]

    def export(self, bank_name: str, batch: int = 10_000) -> Iterator[ContentItem]:
        """Stream a bank's content in id order without holding it all in memory."""
        with self._sessions() as session:
            bank_id = self._bank(session, bank_name).id
        after = 0
        while True:
            with self._sessions() as session:
                rows = session.scalars(
                    select(Content)
                    .where(Content.bank_id == bank_id, Content.id > after)
                    .order_by(Content.id)
                    .limit(batch)
                ).all()
                items = read_items(session, rows)
            if not rows:
                return
            yield from items
            after = rows[-1].id

    def kind_counts(self, name: str) -> dict[str, int]:
        """How many hashes of each kind the bank holds."""
        with self._sessions() as session:
            bank = self._bank(session, name)
            rows = session.execute(
                select(ContentHash.kind, func.count())
                .where(ContentHash.bank_id == bank.id)
                .group_by(ContentHash.kind)
            ).all()
            return {kind: count for kind, count in rows}

    def stored_kinds(self) -> list[str]:
        """Every hash kind the database holds, to check each has a registered hasher."""
        with self._sessions() as session:
            return list(session.scalars(select(ContentHash.kind).distinct()))


def _bank_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Checked bank columns from ``fields``; anything else is an unknown field."""
    unknown = set(fields) - set(BANK_FIELDS)
    if unknown:
        raise InvalidInput(f"cannot set {', '.join(sorted(unknown))} of a bank")
    values = dict(fields)
    if "name" in values:
        validate_bank_name(values["name"])
    for what in ("description", "source", "licence"):
        if what in values:
            validate_text(str(values[what]), what)
    for flag in ("enabled", "negative", "local_features"):
        if flag in values and not isinstance(values[flag], bool):
            raise InvalidInput(f"{flag} must be true or false, got {values[flag]!r}")
    ratio = values.get("enabled_ratio")
    if ratio is not None and (
        isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 <= ratio <= 1
    ):
        raise InvalidInput(f"enabled_ratio must be a number from 0 to 1, got {ratio!r}")
    return values


def _store_thresholds(session: Session, bank_id: int, thresholds: Mapping[str, Threshold]) -> None:
    for kind, rule in thresholds.items():
        session.merge(BankThreshold(bank_id=bank_id, kind=kind, distance=rule.distance,
                                    min_quality=rule.min_quality, query_share=rule.query_share,
                                    bank_share=rule.bank_share))  # fmt: skip


def _tombstone(session: Session, revision: int, where: Any) -> None:
    session.execute(
        insert(HashTombstone).from_select(
            ["hash_id", "kind", "revision"],
            select(ContentHash.id, ContentHash.kind, literal(revision)).where(where),
        )
    )


def _keys(item: ContentItem) -> list[tuple[str, bytes]]:
    """Each hash as (registered kind name, code): a kind spelt ``"PDQ "`` by a caller must
    not be stored as a kind no hasher is registered under."""
    keys = []
    for hashed in item.hashes:
        hasher = get_hasher(hashed.kind)
        keys.append((hasher.name, hasher.to_code(hashed.value)))
    return keys


def _common_owner(
    owners: Mapping[tuple[str, bytes], set[int]], keys: list[tuple[str, bytes]]
) -> int | None:
    """The content item that already holds every one of ``keys``, if there is one."""
    common: set[int] | None = None
    for key in keys:
        held = owners.get(key)
        if not held:
            return None
        common = set(held) if common is None else common & held
        if not common:
            return None
    return min(common) if common else None


def _content_count(session: Session, bank_id: int) -> int:
    return (
        session.scalar(select(func.count()).select_from(Content).where(Content.bank_id == bank_id))
        or 0
    )


def _content_info(row: Content, bank_name: str, item: ContentItem) -> ContentInfo:
    return ContentInfo(
        row.id, bank_name, row.external_id, tuple(json.loads(row.labels_json)), row.media_kind,
        row.duration, row.added_at, row.added_by, item, row.note, row.disable_until_ts,
    )  # fmt: skip
