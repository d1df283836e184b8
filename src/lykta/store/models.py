"""Tables of the matching core.

Every write that changes what a look-up can return bumps the single `sync_state.revision`
counter inside its transaction and stamps the rows it wrote (or the tombstones of those it
deleted) with the new value. Replicas follow that change log to update their in-memory
indexes incrementally; taking the counter row's lock serialises writers, so revisions commit
in order and a reader never skips one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
Id = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class SyncState(Base):
    __tablename__ = "sync_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    # Names this database, so an index snapshot is never applied to another one.
    instance_id: Mapped[str] = mapped_column(String(36), nullable=False)


class Bank(Base):
    __tablename__ = "bank"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True, nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    source: Mapped[str] = mapped_column(Text, nullable=False, default="")
    licence: Mapped[str] = mapped_column(Text, nullable=False, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    negative: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # Its photos are banked with their local features (`orb`) and looked up by them too.
    local_features: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # HMA's partial matching: the share of look-ups through the HMA routes that search this
    # bank (a coin flip per request); None means every one.
    enabled_ratio: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BankThreshold(Base):
    """A bank's match rule for one similarity kind. Kinds without a row use their defaults."""

    __tablename__ = "bank_threshold"

    bank_id: Mapped[int] = mapped_column(
        ForeignKey("bank.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    distance: Mapped[int] = mapped_column(Integer, nullable=False)
    min_quality: Mapped[int | None] = mapped_column(Integer)
    # A video matches when this share of its sampled frames, or this share of the bank
    # video's, matched; None for the defaults.
    query_share: Mapped[float | None] = mapped_column(Float)
    bank_share: Mapped[float | None] = mapped_column(Float)


class Content(Base):
    """One item in a bank: a photo, a video or a bare hash, with all the hashes it has."""

    __tablename__ = "content"
    __table_args__ = (
        Index("ix_content_bank", "bank_id", "id"),
        # The few rows HMA's `disable_until_ts` switched off, read on every change-log move.
        Index(
            "ix_content_disabled",
            "id",
            postgresql_where=text("disable_until_ts IS NOT NULL"),
            sqlite_where=text("disable_until_ts IS NOT NULL"),
        ),
        # Never reuse the id of deleted content: HMA clients keep content ids.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("bank.id"), nullable=False)
    external_id: Mapped[str | None] = mapped_column(String(512))
    # A JSON list kept as text, so bulk imports can write it without a per-row encoder.
    labels_json: Mapped[str] = mapped_column("labels", Text, nullable=False, default="[]")
    media_kind: Mapped[str | None] = mapped_column(String(16))
    duration: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
    # HMA's per-content switch, a Unix time: 0 disabled, 1 (or None) enabled, a later time
    # disabled until then. Kept and reported for HMA clients; see docs/hma.md.
    disable_until_ts: Mapped[int | None] = mapped_column(BigInteger)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    added_by: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    revision: Mapped[int] = mapped_column(BigInteger, nullable=False)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(json.loads(self.labels_json))


class ContentHash(Base):
    """One hash of a content item. `value` holds the raw hash bytes; its id keys the indexes.

    `bank_id` repeats the content's, so duplicate checks and the change log read one table.
    """

    __tablename__ = "content_hash"
    __table_args__ = (
        Index("ix_content_hash_revision", "revision", "id"),
        Index("ix_content_hash_bank_kind_value", "bank_id", "kind", "value"),
        Index("ix_content_hash_content", "content_id"),
        # Never reuse the id of a deleted hash: replicas key their indexes by it.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    content_id: Mapped[int] = mapped_column(ForeignKey("content.id"), nullable=False)
    bank_id: Mapped[int] = mapped_column(ForeignKey("bank.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    value: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    quality: Mapped[int | None] = mapped_column(Integer)
    # Where in a video the frame is, in seconds; None for photos and bare hashes.
    seconds: Mapped[float | None] = mapped_column(Float)
    revision: Mapped[int] = mapped_column(BigInteger, nullable=False)


class HashTombstone(Base):
    """Ids of deleted content hashes, so replicas can drop them from their indexes."""

    __tablename__ = "hash_tombstone"
    __table_args__ = (Index("ix_hash_tombstone_revision", "revision", "hash_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    hash_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    revision: Mapped[int] = mapped_column(BigInteger, nullable=False)


class ApiToken(Base):
    """A bearer token. Only a SHA-256 of the secret is stored; the secret is shown once."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    scope: Mapped[str] = mapped_column(String(32), nullable=False)
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class Alert(Base):
    """One match found while watching something: a live stream now; uploaded videos and
    photos later. Cases are built from alerts, so the row says all a reviewer needs to
    find the moment again (source, offset) and whom it concerns (subject, viewers), and
    keeps bank and content by name and id, as banks and their items may be deleted later.
    """

    __tablename__ = "alert"
    __table_args__ = (
        Index("ix_alert_source", "source_kind", "source_id", "id"),
        Index("ix_alert_created_at", "created_at"),
        Index("ix_alert_case", "case_id", "id"),
        Index("ix_alert_subject", "subject", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    # What was watched: "stream", "video" or "photo".
    source_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    # The platform's or watcher's id of it (a stream id), and where it was read from.
    source_id: Mapped[str] = mapped_column(String(512), nullable=False)
    source_uri: Mapped[str] = mapped_column(Text, nullable=False, default="")
    # Seconds into the source of the matching frame; None for photos.
    offset_s: Mapped[float | None] = mapped_column(Float)
    bank: Mapped[str] = mapped_column(String(128), nullable=False)
    content_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    external_id: Mapped[str | None] = mapped_column(String(512))
    labels_json: Mapped[str] = mapped_column("labels", Text, nullable=False, default="[]")
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    distance: Mapped[int] = mapped_column(Integer, nullable=False)
    transform: Mapped[str] = mapped_column(String(32), nullable=False, default="original")
    # The platform's account ids: who broadcast or uploaded it, who was watching.
    subject: Mapped[str | None] = mapped_column(String(512))
    viewers_json: Mapped[str] = mapped_column("viewers", Text, nullable=False, default="[]")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The looked-up hash that matched (hex), so a false positive can be banked as negative.
    query_hash: Mapped[str] = mapped_column(String(256), nullable=False, default="")
    # SHA-256 (hex) of the looked-up photo's or video's bytes, "" for a hash or a stream: how
    # a kept upload (LYKTA_EVIDENCE_KEEP_UPLOADS) is found for the review console and evidence.
    content_sha256: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    # The case it joined; None while unassigned, and for a quarantined bank item's match.
    case_id: Mapped[int | None] = mapped_column(BigInteger)


class Case(Base):
    """The alerts about one subject (or, without one, one source) while they are open,
    for one decision and one report, as NCMEC asks: one person with all their media.

    ``open_key`` is the grouping key while the case is open and NULL afterwards; its unique
    index keeps two recorders from opening two cases for one subject at once.
    """

    __tablename__ = "review_case"
    __table_args__ = (
        Index("ix_review_case_queue", "priority", "id"),
        Index("ix_review_case_state", "state", "priority", "id"),
        Index("ix_review_case_subject", "subject"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    subject: Mapped[str | None] = mapped_column(String(512))
    group_key: Mapped[str] = mapped_column(String(600), nullable=False)
    open_key: Mapped[str | None] = mapped_column(String(600), unique=True)
    state: Mapped[str] = mapped_column(String(32), nullable=False, default="new")
    assignee: Mapped[str | None] = mapped_column(String(128))
    # Higher first: source kind, then closeness, then the bank's place in the order.
    priority: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    top_source_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    min_distance: Mapped[int] = mapped_column(Integer, nullable=False)
    alert_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CaseEvent(Base):
    """One entry of a case's history: who did what when, with their note."""

    __tablename__ = "case_event"
    __table_args__ = (Index("ix_case_event_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("review_case.id"), nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(256), nullable=False)
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, nullable=False, default="")
    detail_json: Mapped[str] = mapped_column("detail", Text, nullable=False, default="{}")


class ContextItem(Base):
    """What a platform knows of a subject, for the report: a screen name, an email, an IP
    capture event, a chat excerpt; about one alert when ``alert_id`` is set."""

    __tablename__ = "context_item"
    __table_args__ = (
        Index("ix_context_item_subject", "subject", "id"),
        Index("ix_context_item_alert", "alert_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(512), nullable=False)
    alert_id: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    value: Mapped[str] = mapped_column(Text, nullable=False)
    event: Mapped[str | None] = mapped_column(String(128))
    at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    added_by: Mapped[str] = mapped_column(String(256), nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Misfire(Base):
    """False positives of one bank item: after LYKTA_QUARANTINE_AFTER of them it is
    quarantined, and its matches no longer open or join cases."""

    __tablename__ = "misfire"

    bank: Mapped[str] = mapped_column(String(128), primary_key=True)
    content_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(512))
    false_positives: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    quarantined_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditEntry(Base):
    """One entry of the append-only audit log. ``entry_hash`` is the SHA-256 of the entry
    and the previous entry's hash, so an edited, deleted or reordered entry shows."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_action", "action", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    actor: Mapped[str] = mapped_column(String(256), nullable=False)
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    target: Mapped[str] = mapped_column(String(600), nullable=False, default="")
    detail_json: Mapped[str] = mapped_column("detail", Text, nullable=False, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    entry_hash: Mapped[str] = mapped_column(String(64), nullable=False)


class AuditHead(Base):
    """The last entry's hash. Appending updates this one row first, which serialises
    appenders (its row lock on PostgreSQL, the write lock on SQLite), so the chain never
    forks."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    entries: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class User(Base):
    """A person who signs in to the review console. Only an argon2 hash of the password
    is stored; repeated failures lock the account for a while."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True, nullable=False)
    role: Mapped[str] = mapped_column(String(32), nullable=False)
    password_hash: Mapped[str] = mapped_column(String(256), nullable=False)
    failed_logins: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The console's wellness preferences (JSON), each over the organisation's default.
    preferences: Mapped[str] = mapped_column(Text, nullable=False, default="{}")


class WebSession(Base):
    """A signed-in browser: only a SHA-256 of the cookie's secret is stored, with the
    CSRF token its forms must carry."""

    __tablename__ = "web_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), nullable=False)
    csrf_token: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # Media items served to this session since sign-in or the last break (the reminder).
    media_views: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class Evidence(Base):
    """What was preserved of a confirmed case: its blobs (encrypted, content-addressed
    files) are listed in ``evidence_item``; kept until ``retain_until`` unless on hold."""

    __tablename__ = "evidence"
    __table_args__ = (Index("ix_evidence_retain_until", "retain_until"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(BigInteger, unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    retain_until: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    legal_hold: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    hold_note: Mapped[str] = mapped_column(Text, nullable=False, default="")
    purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class EvidenceItem(Base):
    """One blob of a case's evidence: the case record, a kept upload, a report's XML."""

    __tablename__ = "evidence_item"
    __table_args__ = (
        Index("ix_evidence_item_evidence", "evidence_id", "id"),
        Index("ix_evidence_item_sha256", "sha256"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    name: Mapped[str] = mapped_column(String(512), nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class KeptUpload(Base):
    """An upload kept (LYKTA_EVIDENCE_KEEP_UPLOADS) because it matched, until a confirmed
    case's evidence takes it or retention ends."""

    __tablename__ = "kept_upload"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class CyberTipReport(Base):
    """A CyberTipline report of a case and how far it got: the NCMEC report id and each
    step are written before and after each call, so a crash resumes, never re-submits."""

    __tablename__ = "cybertip_report"
    __table_args__ = (Index("ix_cybertip_report_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # Set while the report is unfinished, so a case has at most one report under way.
    open_key: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    step: Mapped[str] = mapped_column(String(32), nullable=False)
    ncmec_report_id: Mapped[str | None] = mapped_column(String(64))
    endpoint: Mapped[str] = mapped_column(Text, nullable=False)
    actor: Mapped[str] = mapped_column(String(256), nullable=False)
    xml_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    files_json: Mapped[str] = mapped_column("files", Text, nullable=False, default="[]")
    error: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class Exchange(Base):
    """A bank that follows a hash-sharing programme: which API, its settings (never its
    credentials: ``credentials`` names where they are read from), where the last sync got
    to, and the lock that lets one replica at a time sync it."""

    __tablename__ = "exchange"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    bank_id: Mapped[int] = mapped_column(
        ForeignKey("bank.id", ondelete="CASCADE"), unique=True, nullable=False
    )
    api: Mapped[str] = mapped_column(String(64), nullable=False)
    config_json: Mapped[str] = mapped_column("config", Text, nullable=False, default="{}")
    credentials: Mapped[str] = mapped_column(String(1024), nullable=False, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    # The API's own checkpoint (its dataclass as JSON), moved only with the data it covers.
    checkpoint_json: Mapped[str | None] = mapped_column("checkpoint", Text)
    checkpoint_ts: Mapped[int | None] = mapped_column(BigInteger)
    running_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    run_items: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    last_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_succeeded: Mapped[bool | None] = mapped_column(Boolean)
    last_error: Mapped[str] = mapped_column(Text, nullable=False, default="")
    up_to_date: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    lock_holder: Mapped[str | None] = mapped_column(String(128))
    lock_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ExchangeItem(Base):
    """Provenance of one content item an exchange brought: the exchange's own id for it
    (by which later updates and deletions find it), when it was fetched, and what the
    source said of it."""

    __tablename__ = "exchange_item"
    __table_args__ = (Index("ix_exchange_item_key", "exchange_id", "item_key", unique=True),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    exchange_id: Mapped[int] = mapped_column(
        ForeignKey("exchange.id", ondelete="CASCADE"), nullable=False
    )
    item_key: Mapped[str] = mapped_column(String(512), nullable=False)
    # Not a foreign key: deleting a bank deletes its content before the exchange row.
    content_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    opinion: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    labels_json: Mapped[str] = mapped_column("labels", Text, nullable=False, default="[]")
    # Of what the bank holds for it: a re-sent, unchanged item is only stamped as fetched.
    digest: Mapped[str] = mapped_column(String(64), nullable=False, default="")


class ExchangeCredential(Base):
    """Credentials of an exchange API set through HMA's route, sealed with AES-256-GCM under
    LYKTA_EXCHANGE_KEY: the database never holds them in clear text."""

    __tablename__ = "exchange_credential"

    api: Mapped[str] = mapped_column(String(64), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
