"""Audit: the append-only, hash-chained log of decisions, views, exports, logins and
admin actions.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(600), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_entry_action", "audit_entry", ["action", "id"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.Column("entries", sa.BigInteger, nullable=False),
    )
    # The chain starts from a hash of zeros.
    op.bulk_insert(head, [{"id": 1, "entry_hash": "0" * 64, "entries": 0}])


def downgrade() -> None:
    op.drop_table("audit_head")
    op.drop_table("audit_entry")
