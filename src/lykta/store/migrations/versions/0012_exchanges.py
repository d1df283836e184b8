"""Banks that follow hash-sharing programmes: `exchange` (API, settings, checkpoint, sync
status and lock), `exchange_item` (per-item provenance) and `exchange_credential` (sealed
credentials set through HMA's route).

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Time = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "exchange",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column(
            "bank_id",
            Id,
            sa.ForeignKey("bank.id", ondelete="CASCADE"),
            unique=True,
            nullable=False,
        ),
        sa.Column("api", sa.String(64), nullable=False),
        sa.Column("config", sa.Text, nullable=False, server_default="{}"),
        sa.Column("credentials", sa.String(1024), nullable=False, server_default=""),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("checkpoint", sa.Text),
        sa.Column("checkpoint_ts", sa.BigInteger),
        sa.Column("running_since", Time),
        sa.Column("run_items", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("last_started_at", Time),
        sa.Column("last_finished_at", Time),
        sa.Column("last_succeeded", sa.Boolean),
        sa.Column("last_error", sa.Text, nullable=False, server_default=""),
        sa.Column("up_to_date", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("lock_holder", sa.String(128)),
        sa.Column("lock_until", Time),
        sa.Column("created_at", Time),
    )
    op.create_table(
        "exchange_item",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column(
            "exchange_id", Id, sa.ForeignKey("exchange.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("item_key", sa.String(512), nullable=False),
        sa.Column("content_id", sa.BigInteger, nullable=False),
        sa.Column("fetched_at", Time, nullable=False),
        sa.Column("opinion", sa.String(32), nullable=False, server_default=""),
        sa.Column("labels", sa.Text, nullable=False, server_default="[]"),
        sa.Column("digest", sa.String(64), nullable=False, server_default=""),
    )
    op.create_index(
        "ix_exchange_item_key", "exchange_item", ["exchange_id", "item_key"], unique=True
    )
    op.create_table(
        "exchange_credential",
        sa.Column("api", sa.String(64), primary_key=True),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
        sa.Column("updated_at", Time),
    )


def downgrade() -> None:
    op.drop_table("exchange_credential")
    op.drop_index("ix_exchange_item_key", "exchange_item")
    op.drop_table("exchange_item")
    op.drop_table("exchange")
