"""HMA's per-content switch and partial bank matching: `content.disable_until_ts` and
`bank.enabled_ratio`.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("content") as batch:
        batch.add_column(sa.Column("disable_until_ts", sa.BigInteger))
    with op.batch_alter_table("bank") as batch:
        batch.add_column(sa.Column("enabled_ratio", sa.Float))
    op.create_index(
        "ix_content_disabled",
        "content",
        ["id"],
        postgresql_where=sa.text("disable_until_ts IS NOT NULL"),
        sqlite_where=sa.text("disable_until_ts IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_content_disabled", table_name="content")
    with op.batch_alter_table("bank") as batch:
        batch.drop_column("enabled_ratio")
    with op.batch_alter_table("content") as batch:
        batch.drop_column("disable_until_ts")
