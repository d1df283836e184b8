"""Matching core: banks, bank content, tombstones, tokens, change-log counter.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sync_state",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("instance_id", sa.String(36), nullable=False),
    )
    op.create_table(
        "bank",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("licence", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("negative", sa.Boolean, nullable=False),
        sa.Column("pdq_distance", sa.Integer, nullable=False),
        sa.Column("pdq_min_quality", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "bank_content",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("bank_id", Id, sa.ForeignKey("bank.id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column("external_id", sa.String(512)),
        sa.Column("labels", sa.Text, nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True)),
        sa.Column("added_by", sa.String(128), nullable=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_bank_content_revision", "bank_content", ["revision", "id"])
    op.create_index("ix_bank_content_bank_kind_value", "bank_content", ["bank_id", "kind", "value"])
    op.create_table(
        "content_tombstone",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("content_id", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_content_tombstone_revision", "content_tombstone", ["revision", "content_id"]
    )
    op.create_table(
        "api_token",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("scope", sa.String(32), nullable=False),
        sa.Column("secret_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True)),
        sa.Column("revoked", sa.Boolean, nullable=False),
    )


def downgrade() -> None:
    for table in ("api_token", "content_tombstone", "bank_content", "bank", "sync_state"):
        op.drop_table(table)
