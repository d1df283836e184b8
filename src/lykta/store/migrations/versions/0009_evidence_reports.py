"""Evidence of confirmed cases, kept uploads and CyberTipline reports.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "evidence",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.BigInteger, nullable=False, unique=True),
        sa.Column("created_at", When, nullable=False),
        sa.Column("retain_until", When, nullable=False),
        sa.Column("legal_hold", sa.Boolean, nullable=False),
        sa.Column("hold_note", sa.Text, nullable=False),
        sa.Column("purged_at", When),
    )
    op.create_index("ix_evidence_retain_until", "evidence", ["retain_until"])
    op.create_table(
        "evidence_item",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("evidence_id", Id, sa.ForeignKey("evidence.id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("created_at", When, nullable=False),
    )
    op.create_index("ix_evidence_item_evidence", "evidence_item", ["evidence_id", "id"])
    op.create_index("ix_evidence_item_sha256", "evidence_item", ["sha256"])
    op.create_table(
        "kept_upload",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("created_at", When, nullable=False),
    )
    op.create_table(
        "cybertip_report",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.BigInteger, nullable=False),
        sa.Column("open_key", sa.BigInteger, unique=True),
        sa.Column("step", sa.String(32), nullable=False),
        sa.Column("ncmec_report_id", sa.String(64)),
        sa.Column("endpoint", sa.Text, nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("xml_sha256", sa.String(64), nullable=False),
        sa.Column("files", sa.Text, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("submitted_at", When),
        sa.Column("updated_at", When, nullable=False),
    )
    op.create_index("ix_cybertip_report_case", "cybertip_report", ["case_id", "id"])


def downgrade() -> None:
    op.drop_table("cybertip_report")
    op.drop_table("kept_upload")
    op.drop_table("evidence_item")
    op.drop_table("evidence")
