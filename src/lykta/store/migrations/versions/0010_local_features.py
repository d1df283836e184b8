"""Banks that enable the local-features path (``orb`` hashes of their photos):
`bank.local_features`.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bank") as batch:
        batch.add_column(
            sa.Column("local_features", sa.Boolean, nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("bank") as batch:
        batch.drop_column("local_features")
