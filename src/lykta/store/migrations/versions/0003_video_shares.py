"""Video match rule per bank and kind: the share of query frames and of bank frames.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bank_threshold") as batch:
        batch.add_column(sa.Column("query_share", sa.Float))
        batch.add_column(sa.Column("bank_share", sa.Float))


def downgrade() -> None:
    with op.batch_alter_table("bank_threshold") as batch:
        batch.drop_column("bank_share")
        batch.drop_column("query_share")
