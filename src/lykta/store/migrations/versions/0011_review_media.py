"""Media in the review console: the SHA-256 of the looked-up bytes on each alert (so a
kept upload is found whatever `source_id` the platform gave), each console user's wellness
preferences, and the media a browser session has viewed (for the break reminder).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert") as batch:
        batch.add_column(
            sa.Column("content_sha256", sa.String(64), nullable=False, server_default="")
        )
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(sa.Column("preferences", sa.Text, nullable=False, server_default="{}"))
    with op.batch_alter_table("web_session") as batch:
        batch.add_column(
            sa.Column("media_views", sa.Integer, nullable=False, server_default=sa.text("0"))
        )


def downgrade() -> None:
    with op.batch_alter_table("web_session") as batch:
        batch.drop_column("media_views")
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("preferences")
    with op.batch_alter_table("alert") as batch:
        batch.drop_column("content_sha256")
