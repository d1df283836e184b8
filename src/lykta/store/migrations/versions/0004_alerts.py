"""Alerts: one row per match found while watching a source (a live stream for now).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "alert",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("source_kind", sa.String(16), nullable=False),
        sa.Column("source_id", sa.String(512), nullable=False),
        sa.Column("source_uri", sa.Text, nullable=False),
        sa.Column("offset_s", sa.Float),
        sa.Column("bank", sa.String(128), nullable=False),
        sa.Column("content_id", sa.BigInteger, nullable=False),
        sa.Column("external_id", sa.String(512)),
        sa.Column("labels", sa.Text, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("distance", sa.Integer, nullable=False),
        sa.Column("transform", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(512)),
        sa.Column("viewers", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_alert_source", "alert", ["source_kind", "source_id", "id"])
    op.create_index("ix_alert_created_at", "alert", ["created_at"])


def downgrade() -> None:
    op.drop_table("alert")
