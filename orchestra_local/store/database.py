"""Opening the metadata database: any SQLAlchemy URL; SQLite gets WAL and a busy timeout; schema migrated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from orchestra_local.errors import StoreError
from orchestra_local.store import schema

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (the API, `runs`) never block the writer
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable at each checkpoint; safe with WAL
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def open_engine(url: str) -> Engine:
    """Create an engine for the store and bring its schema to the newest migration (``schema.upgrade``).

    Args:
        url: A SQLAlchemy URL, e.g. ``sqlite:////abs/path/metadata.db`` or
            ``postgresql+psycopg://user@host/db``. A SQLite file's folder is created.

    Raises:
        StoreError: When the URL is malformed or the database cannot be reached; the message
            shows the URL with its password hidden.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError("metadata URL is not a valid SQLAlchemy URL (e.g. sqlite:////path/metadata.db)") from None
    shown = parsed.render_as_string(hide_password=True)
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if is_sqlite and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(parsed, pool_pre_ping=not is_sqlite)
        if is_sqlite:
            event.listen(engine, "connect", _sqlite_pragmas)
        schema.upgrade(engine)
    except SQLAlchemyError as exc:
        reason = str(exc.orig if getattr(exc, "orig", None) is not None else exc).splitlines()[0]
        raise StoreError(f"cannot open the metadata database {shown}: {reason}") from None
    except ModuleNotFoundError as exc:
        raise StoreError(f"cannot open the metadata database {shown}: driver not installed ({exc.name})") from None
    return engine
