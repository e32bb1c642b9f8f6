"""The store's schema, managed by Alembic migrations (``store/migrations/versions``).

Every process that opens the metadata database calls :func:`upgrade` first. Migrations run under
a lock, so the first concurrent use of an empty database creates its tables exactly once:
a PostgreSQL transaction-level advisory lock (released at commit, rollback or a dead connection),
an OS file lock beside a SQLite file (released by the kernel when the process dies). Other
backends migrate without a lock (one process at a time is then the operator's job).

A database made before migrations existed (tables created by ``create_all``, no
``alembic_version`` table) is stamped at the first revision, then upgraded.

Command: ``orchestra-local db upgrade`` (cli.py); every command also upgrades when it opens the store.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine, inspect, text

SCRIPT_LOCATION = "orchestra_local.store:migrations"
"""Alembic's package-relative location of ``env.py`` and ``versions/``."""

HEAD = "0006"
"""The newest revision; a test checks it equals the scripts' head, so the check below is cheap."""

ADVISORY_LOCK_KEY = 0x6F726368  # "orch": any constant shared by every orchestra-local process
LOCK_WAIT_SECONDS = 120
"""Longest wait for another process's migration on PostgreSQL before failing (``lock_timeout``)."""
FIRST_REVISION = "0001"
VERSION_TABLE = "alembic_version"


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at, or None when it has no version table (empty or pre-migrations)."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def upgrade(engine: Engine) -> str:
    """Bring the database to :data:`HEAD` (no-op, one query, when it is there already).

    Args:
        engine: The metadata database.

    Returns:
        The revision after upgrading.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: When the database cannot be read or a migration fails
            (the migration's transaction is rolled back on PostgreSQL and SQLite).
    """
    with engine.connect() as connection:
        if current_revision(connection) == HEAD:
            return HEAD
    with _migration_lock(engine), engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            # A transaction-level lock: released by the commit below or by the rollback of a failed
            # migration (closing the connection), never left behind on a pooled connection.
            connection.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT_SECONDS}s'"))
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
        _run_alembic(connection)
        connection.commit()
        return current_revision(connection) or HEAD


def _run_alembic(connection: Connection) -> None:
    # Imported here: the fast path above needs no Alembic at all.
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["connection"] = connection
    if current_revision(connection) is None and inspect(connection).has_table("pipeline_runs"):
        command.stamp(config, FIRST_REVISION)  # made by create_all before migrations existed
    command.upgrade(config, "head")


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """An exclusive OS file lock beside a SQLite database file; nothing for other databases."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    lock_path = Path(database).with_name(Path(database).name + ".migrate-lock")
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def head_of_scripts() -> str:
    """The head revision according to the migration scripts themselves (the test that keeps :data:`HEAD` true)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    heads = ScriptDirectory.from_config(config).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads ({', '.join(heads)}); merge them into one")
    return heads[0]
