"""Engine creation and schema migration for SQLite and PostgreSQL."""

from __future__ import annotations

import ast
import re
import uuid
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, ExceptionContext, create_engine, event, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from lykta.errors import DatabaseBusy, LyktaError
from lykta.store.models import SyncState

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# `revision = "0010"` and `down_revision = "0009"` (or None, or a tuple) in a migration file.
_REVISION_LINE = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.M)


def make_engine(url: str, *, wait: float) -> Engine:
    """An engine whose writes wait at most `wait` seconds for another writer's lock, then
    raise `DatabaseBusy` (a 503, not a 500)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": wait, "check_same_thread": False})
        _refuse_when_busy(engine, wait)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            # WAL lets look-ups read while an import writes; foreign keys are off by default.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # Bulk imports touch random pages of the hash index; keep more of them in memory.
            cursor.execute("PRAGMA cache_size=-131072")
            cursor.close()

        return engine
    try:
        engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    except ImportError as error:  # the URL names a driver that is not installed
        raise LyktaError(missing_driver(url, error.name or str(error))) from None
    except Exception as error:  # a bad URL
        raise LyktaError(f"cannot use database URL: {error}") from None

    @event.listens_for(engine, "connect")
    def _lock_timeout(dbapi_connection: Any, _record: Any) -> None:
        # Writers queue on the sync_state row lock; without a timeout a write behind a long
        # import would hang for as long as the import runs.
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = {max(1, round(wait * 1000))}")
        dbapi_connection.commit()

    _refuse_when_busy(engine, wait)
    return engine


def missing_driver(url: str, module: str) -> str:
    """What to install (or write) when the database URL's driver is missing."""
    if url.startswith("postgresql"):
        scheme = url.split("://", 1)[0]
        hint = "pip install 'lykta[postgres]'"
        if scheme != "postgresql+psycopg":
            hint += f" and write the URL as postgresql+psycopg://... (not {scheme}://)"
        return f"PostgreSQL needs the psycopg driver ({module} is not installed): {hint}"
    return f"the database URL needs the Python module {module}, which is not installed"


def _refuse_when_busy(engine: Engine, wait: float) -> None:
    """Turn "the lock was not free in time" into `DatabaseBusy`, whichever door asked."""

    @event.listens_for(engine, "handle_error")
    def _busy(context: ExceptionContext) -> None:
        error = context.original_exception
        sqlite_busy = str(getattr(error, "sqlite_errorname", "")).startswith("SQLITE_BUSY")
        postgres_lock_timeout = getattr(error, "sqlstate", None) == "55P03"  # lock_not_available
        if sqlite_busy or postgres_lock_timeout:
            raise DatabaseBusy(
                f"the database is busy with another write (such as a long import) and stayed "
                f"locked for {wait:g} s (LYKTA_DATABASE_WAIT); try again in a moment"
            ) from error


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent, safe from several processes).

    A database already at the newest revision, as it is on every start but the first after
    an upgrade, is left alone without importing Alembic: its import and its reading of the
    migrations were a fifth of what a quick command like `lykta bank list` spent."""
    if not _at_head(engine):
        _upgrade(engine)
    with Session(engine) as session, session.begin():
        if session.get(SyncState, 1) is None:
            session.add(SyncState(id=1, revision=0, instance_id=str(uuid.uuid4())))


def _at_head(engine: Engine) -> bool:
    """Whether the database's revisions are exactly the installed migrations' heads."""
    try:
        with engine.connect() as connection:
            stored = connection.exec_driver_sql("SELECT version_num FROM alembic_version")
            current = frozenset(row[0] for row in stored)
    except DBAPIError:  # never migrated (no table); anything worse fails again in _upgrade
        return False
    return current == migration_heads()


@cache
def migration_heads() -> frozenset[str]:
    """The newest revisions of the installed migrations, read from their files' `revision`
    and `down_revision` lines (as Alembic reads them; a test holds the two equal)."""
    revisions: set[str] = set()
    replaced: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        fields = dict(_REVISION_LINE.findall(path.read_text(encoding="utf-8")))
        if "revision" not in fields:
            continue
        revisions.add(ast.literal_eval(fields["revision"]))
        down = ast.literal_eval(fields.get("down_revision", "None"))
        replaced.update((down,) if isinstance(down, str) else down or ())
    return frozenset(revisions - replaced)


def _upgrade(engine: Engine) -> None:
    from alembic import command

    config = _alembic_config()
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:
            # Altering a table on SQLite copies it and drops the original, which the foreign
            # keys pointing at it forbid; the switch only works outside a transaction.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        with connection.begin():
            if engine.dialect.name == "postgresql":
                # Several replicas may start at once; one migrates, the others wait, however
                # long the migration takes (LYKTA_DATABASE_WAIT is for writes, not for this).
                connection.exec_driver_sql("SET LOCAL lock_timeout = 0")
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7140521)")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()


def _alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def schema_revisions(engine: Engine) -> tuple[set[str], frozenset[str]]:
    """(the database's Alembic revisions, the newest this Lykta knows): equal when the
    schema is current. They differ when a newer Lykta has migrated the database under a
    running older one, or a database was never migrated."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    return current, migration_heads()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def next_revision(session: Session) -> int:
    """Bump and return the change-log counter, holding its row lock until commit.

    Call it first in every write transaction: as the first statement is a write, SQLite
    takes its write lock at once (waiting politely for another writer) instead of failing
    to upgrade a read snapshot later.
    """
    return session.execute(
        update(SyncState)
        .where(SyncState.id == 1)
        .values(revision=SyncState.revision + 1)
        .returning(SyncState.revision)
    ).scalar_one()


def current_state(session: Session) -> SyncState:
    return session.scalars(select(SyncState).where(SyncState.id == 1)).one()
