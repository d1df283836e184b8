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
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
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
    pdq_distance: Mapped[int] = mapped_column(Integer, nullable=False, default=31)
    pdq_min_quality: Mapped[int] = mapped_column(Integer, nullable=False, default=50)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BankContent(Base):
    """One hash in a bank. `value` holds the raw hash bytes (32 for PDQ and SHA-256, 16 for MD5)."""

    __tablename__ = "bank_content"
    __table_args__ = (
        Index("ix_bank_content_revision", "revision", "id"),
        Index("ix_bank_content_bank_kind_value", "bank_id", "kind", "value"),
        # Never reuse the id of deleted content: replicas key their indexes by it.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("bank.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    value: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    external_id: Mapped[str | None] = mapped_column(String(512))
    # A JSON list kept as text, so bulk imports can write it without a per-row encoder.
    labels_json: Mapped[str] = mapped_column("labels", Text, nullable=False, default="[]")
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    added_by: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    revision: Mapped[int] = mapped_column(BigInteger, nullable=False)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(json.loads(self.labels_json))


class ContentTombstone(Base):
    """Ids of deleted bank content, so replicas can drop them from their indexes."""

    __tablename__ = "content_tombstone"
    __table_args__ = (Index("ix_content_tombstone_revision", "revision", "content_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    content_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
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
