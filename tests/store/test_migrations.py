"""Databases made by an earlier release are carried over without loss."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect, text

from lykta.app import Lykta
from lykta.banks.items import ContentItem
from lykta.store.db import MIGRATIONS
from tests.conftest import make_settings

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"


def _database_of_release_0_1(url: str) -> None:
    """The schema and rows that Lykta 0.1 (migration 0001) wrote: one hash per row."""
    engine = create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        now = datetime(2026, 1, 2, tzinfo=UTC)
        connection.execute(
            text("INSERT INTO sync_state (id, revision, instance_id) VALUES (1, 4, 'old-db')")
        )
        connection.execute(
            text(
                "INSERT INTO bank (id, name, description, source, licence, enabled, negative, "
                "pdq_distance, pdq_min_quality, created_at, updated_at) VALUES "
                "(1, 'ncmec', 'd', 'NCMEC', 'l', true, false, 20, 60, :now, :now), "
                "(2, 'fp', '', '', '', true, true, 31, 50, :now, :now)"
            ),
            {"now": now},
        )
        rows = [
            (1, 1, "pdq", bytes.fromhex(PDQ), "img-1", '["a"]', 1),
            (2, 1, "md5", bytes.fromhex(MD5), "img-1", "[]", 1),
            (3, 2, "pdq", bytes.fromhex("0" * 64), None, "[]", 2),
            (4, 1, "pdq", bytes.fromhex("1" * 64), "gone", "[]", 3),
        ]
        for row in rows:
            connection.execute(
                text(
                    "INSERT INTO bank_content (id, bank_id, kind, value, external_id, labels, "
                    "added_at, added_by, revision) VALUES (:id, :bank, :kind, :value, :ext, "
                    ":labels, :now, 'cli', :rev)"
                ),
                dict(
                    zip(("id", "bank", "kind", "value", "ext", "labels", "rev"), row, strict=True),
                    now=now,
                ),
            )
        connection.execute(text("DELETE FROM bank_content WHERE id = 4"))
        connection.execute(
            text("INSERT INTO content_tombstone (content_id, kind, revision) VALUES (4, 'pdq', 4)")
        )
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT setval('bank_content_id_seq', 4)"))
        else:
            connection.execute(
                text("UPDATE sqlite_sequence SET seq = 4 WHERE name = 'bank_content'")
            )
    engine.dispose()


def test_a_release_0_1_database_is_carried_over(tmp_path, database_url: str) -> None:  # type: ignore[no-untyped-def]
    _database_of_release_0_1(database_url)
    core = Lykta.open(make_settings(tmp_path / "home", database_url=database_url))
    try:
        ncmec = core.banks.get("ncmec")
        assert (ncmec.thresholds["pdq"].distance, ncmec.thresholds["pdq"].min_quality) == (20, 60)
        assert ncmec.content_count == 2 and core.banks.get("fp").negative is True
        pdq_item, md5_item = core.banks.list_content("ncmec")
        # Ids are kept: HMA clients and index snapshots refer to them.
        assert (pdq_item.id, pdq_item.external_id, pdq_item.labels) == (1, "img-1", ("a",))
        assert [(h.kind, h.value) for h in pdq_item.item.hashes] == [("pdq", PDQ)]
        assert (md5_item.id, [h.value for h in md5_item.item.hashes]) == (2, [MD5])
        found = core.lookup_hash("pdq", PDQ)
        assert [(m.content_id, m.external_id) for m in found.matches] == [(1, "img-1")]
        assert core.lookup_hash("pdq", "1" * 64).matches == []
        # The change log goes on from where it was; deleted ids are never handed out again.
        assert core.matcher.revision == 4
        [new_id] = core.banks.add_content(
            "ncmec", [ContentItem.of_hash("md5", "2" * 32)]
        ).content_ids
        assert new_id == 5
    finally:
        core.close()


def test_the_schema_matches_the_models(tmp_path, database_url: str) -> None:  # type: ignore[no-untyped-def]
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from lykta.store.models import Base

    Lykta.open(make_settings(tmp_path / "home", database_url=database_url), sync=False).close()
    engine = create_engine(database_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    # Column details differ by dialect (BIGINT/INTEGER ids on SQLite, nullability of
    # timestamps since 0.1); which tables, columns and indexes exist must not.
    structural = [
        d for d in differences if isinstance(d, tuple) and d[0].startswith(("add_", "remove_"))
    ]
    assert structural == [], structural


def test_0005_adds_hma_content_state_and_takes_it_away_again(database_url: str) -> None:
    engine = create_engine(database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
        connection.execute(
            text(
                "INSERT INTO bank (id, name, description, source, licence, enabled, negative, "
                "created_at, updated_at) VALUES (1, 'B', '', '', '', true, false, :now, :now)"
            ),
            {"now": datetime(2026, 1, 2, tzinfo=UTC)},
        )
        connection.execute(
            text(
                "INSERT INTO content (id, bank_id, labels, note, added_at, added_by, revision) "
                "VALUES (7, 1, '[]', 'kept', :now, '', 1)"
            ),
            {"now": datetime(2026, 1, 2, tzinfo=UTC)},
        )
        command.upgrade(config, "0005")
        row = connection.execute(text("SELECT note, disable_until_ts FROM content")).one()
        assert tuple(row) == ("kept", None)
        assert connection.execute(text("SELECT enabled_ratio FROM bank")).scalar_one() is None
        connection.execute(text("UPDATE content SET disable_until_ts = 1700000000"))
        connection.execute(text("UPDATE bank SET enabled_ratio = 0.5"))
        command.downgrade(config, "0003")
        columns = {c["name"] for c in inspect(connection).get_columns("content")}
        assert "disable_until_ts" not in columns and "note" in columns
        assert "enabled_ratio" not in {c["name"] for c in inspect(connection).get_columns("bank")}
        assert connection.execute(text("SELECT note FROM content")).scalar_one() == "kept"
    engine.dispose()


def test_the_heads_read_from_the_files_are_alembics() -> None:
    """`migrate` skips Alembic when the database is at the heads it reads from the migration
    files itself; those must be exactly the heads Alembic finds."""
    from alembic.script import ScriptDirectory

    from lykta.store.db import migration_heads

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert migration_heads() == frozenset(ScriptDirectory.from_config(config).get_heads())


def test_a_database_behind_the_heads_is_migrated_on_open(tmp_path, database_url: str) -> None:  # type: ignore[no-untyped-def]
    from lykta.store.db import migration_heads

    engine = create_engine(database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0009")
    Lykta.open(make_settings(tmp_path / "home", database_url=database_url), sync=False).close()
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
        assert frozenset(stored) == migration_heads()
        assert "local_features" in {c["name"] for c in inspect(connection).get_columns("bank")}
    engine.dispose()
