"""Cases: alerts grouped by subject, their history, context from platforms, bank items
that misfire; alerts keep the hash that matched and the case they joined.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("alert") as alert:
        alert.add_column(sa.Column("query_hash", sa.String(256), nullable=False, server_default=""))
        alert.add_column(sa.Column("case_id", sa.BigInteger))
    op.create_index("ix_alert_case", "alert", ["case_id", "id"])
    op.create_index("ix_alert_subject", "alert", ["subject", "id"])
    op.create_table(
        "review_case",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("subject", sa.String(512)),
        sa.Column("group_key", sa.String(600), nullable=False),
        sa.Column("open_key", sa.String(600), unique=True),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("assignee", sa.String(128)),
        sa.Column("priority", sa.BigInteger, nullable=False),
        sa.Column("top_source_kind", sa.String(16), nullable=False),
        sa.Column("min_distance", sa.Integer, nullable=False),
        sa.Column("alert_count", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_review_case_queue", "review_case", ["priority", "id"])
    op.create_index("ix_review_case_state", "review_case", ["state", "priority", "id"])
    op.create_index("ix_review_case_subject", "review_case", ["subject"])
    op.create_table(
        "case_event",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("case_id", Id, sa.ForeignKey("review_case.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True)),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(32)),
        sa.Column("to_state", sa.String(32)),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_case_event_case", "case_event", ["case_id", "id"])
    op.create_table(
        "context_item",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("subject", sa.String(512), nullable=False),
        sa.Column("alert_id", sa.BigInteger),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("event", sa.String(128)),
        sa.Column("at", sa.DateTime(timezone=True)),
        sa.Column("added_by", sa.String(256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_context_item_subject", "context_item", ["subject", "id"])
    op.create_index("ix_context_item_alert", "context_item", ["alert_id"])
    op.create_table(
        "misfire",
        sa.Column("bank", sa.String(128), primary_key=True),
        sa.Column("content_id", sa.BigInteger, primary_key=True),
        sa.Column("external_id", sa.String(512)),
        sa.Column("false_positives", sa.Integer, nullable=False),
        sa.Column("quarantined_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    op.drop_table("misfire")
    op.drop_table("context_item")
    op.drop_table("case_event")
    op.drop_table("review_case")
    op.drop_index("ix_alert_subject", "alert")
    op.drop_index("ix_alert_case", "alert")
    with op.batch_alter_table("alert") as alert:
        alert.drop_column("case_id")
        alert.drop_column("query_hash")
