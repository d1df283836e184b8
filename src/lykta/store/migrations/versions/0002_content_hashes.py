"""Content holds many hashes; thresholds per bank and hash kind.

`bank_content` (one hash a row) becomes `content` (the item: external id, labels, media
kind, duration) and `content_hash` (its hashes: kind, value, quality, frame time). Each old
row becomes one content item with one hash, both keeping the old id, so HMA clients' content
ids and index snapshots (keyed by hash id) stay valid; ids are never reused afterwards.
`bank.pdq_distance`/`pdq_min_quality` become `bank_threshold` rows for kind `pdq`.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "bank_threshold",
        sa.Column("bank_id", Id, sa.ForeignKey("bank.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("distance", sa.Integer, nullable=False),
        sa.Column("min_quality", sa.Integer),
    )
    op.execute(
        "INSERT INTO bank_threshold (bank_id, kind, distance, min_quality) "
        "SELECT id, 'pdq', pdq_distance, pdq_min_quality FROM bank"
    )
    with op.batch_alter_table("bank") as batch:
        batch.drop_column("pdq_distance")
        batch.drop_column("pdq_min_quality")

    op.create_table(
        "content",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("bank_id", Id, sa.ForeignKey("bank.id"), nullable=False),
        sa.Column("external_id", sa.String(512)),
        sa.Column("labels", sa.Text, nullable=False),
        sa.Column("media_kind", sa.String(16)),
        sa.Column("duration", sa.Float),
        sa.Column("note", sa.Text),
        sa.Column("added_at", sa.DateTime(timezone=True)),
        sa.Column("added_by", sa.String(128), nullable=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_content_bank", "content", ["bank_id", "id"])
    op.create_table(
        "content_hash",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("content_id", Id, sa.ForeignKey("content.id"), nullable=False),
        sa.Column("bank_id", Id, sa.ForeignKey("bank.id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column("quality", sa.Integer),
        sa.Column("seconds", sa.Float),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_content_hash_revision", "content_hash", ["revision", "id"])
    op.create_index("ix_content_hash_bank_kind_value", "content_hash", ["bank_id", "kind", "value"])
    op.create_index("ix_content_hash_content", "content_hash", ["content_id"])
    op.create_table(
        "hash_tombstone",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("hash_id", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_hash_tombstone_revision", "hash_tombstone", ["revision", "hash_id"])

    op.execute(
        "INSERT INTO content (id, bank_id, external_id, labels, added_at, added_by, revision) "
        "SELECT id, bank_id, external_id, labels, added_at, added_by, revision "
        "FROM bank_content"
    )
    op.execute(
        "INSERT INTO content_hash (id, content_id, bank_id, kind, value, revision) "
        "SELECT id, id, bank_id, kind, value, revision FROM bank_content"
    )
    op.execute(
        "INSERT INTO hash_tombstone (id, hash_id, kind, revision) "
        "SELECT id, content_id, kind, revision FROM content_tombstone"
    )
    _continue_ids()
    op.drop_table("content_tombstone")
    op.drop_table("bank_content")


# Each new table's ids go on from the old table whose rows it took over.
ID_SOURCES = (
    ("bank_content", "content"),
    ("bank_content", "content_hash"),
    ("content_tombstone", "hash_tombstone"),
)


def _continue_ids() -> None:
    """New ids start past every id the old tables ever handed out, deleted ones included."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for old, new in ID_SOURCES:
            last = bind.exec_driver_sql(
                "SELECT seq FROM sqlite_sequence WHERE name = ?", (old,)
            ).scalar()
            if last is not None:
                bind.exec_driver_sql("DELETE FROM sqlite_sequence WHERE name = ?", (new,))
                bind.exec_driver_sql(
                    "INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (new, last)
                )
    elif bind.dialect.name == "postgresql":
        for old, new in ID_SOURCES:
            last = bind.exec_driver_sql(
                f"SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {old}_id_seq"
            ).scalar()
            if last:
                bind.exec_driver_sql(f"SELECT setval('{new}_id_seq', {int(last)})")


def downgrade() -> None:
    raise NotImplementedError("0002 cannot be undone: restore the database from a backup")
