"""What each database driver hands back, and how to open a streaming cursor on it.

The SQL source reads raw DBAPI rows (no per-value SQLAlchemy processing) and lets Arrow convert
them. For that it must know the Python type each driver returns for a column of a given Arrow
type (the *wire type*), and how to ask the driver for a cursor that streams instead of
buffering the whole result:

* SQLite (pysqlite) stores dates and timestamps as ISO text, decimals as REAL and booleans as
  integers; its cursors step through the result lazily. Text is fetched as ``bytes``
  (``text_factory``), which skips building ``str`` objects; Arrow validates the UTF-8 when it
  casts the column to ``string``.
* PostgreSQL (psycopg 3) is asked to return ``numeric`` and ``date`` values as text, which Arrow
  parses faster than psycopg builds ``Decimal``/``date`` objects; a named cursor streams on the
  server side (psycopg2 gets the named cursor too).
* MySQL/MariaDB (PyMySQL) streams through an unbuffered ``SSCursor``. ``TIME`` is fetched as
  text (PyMySQL would build a ``timedelta``, which Arrow cannot turn into a time of day), and the
  session time zone is set to UTC so ``TIMESTAMP`` values arrive as UTC. Closing an unbuffered
  cursor before its end makes PyMySQL read and discard the rest of the result.
* Any other driver is assumed to return Python objects Arrow accepts as they are, from a plain
  cursor (which may buffer the whole result).
"""

from __future__ import annotations

import itertools
import os
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

_cursor_numbers = itertools.count(1)


def wire_type(dialect: sa.Dialect, target: pa.DataType) -> pa.DataType:
    """The Arrow type that accepts the driver's Python values for a column of type ``target``.

    Args:
        dialect: The SQLAlchemy dialect of the source connection.
        target: The column's target Arrow type (see :mod:`ingest.type_mapping`).

    Returns:
        The type to build the Arrow array with before casting it to ``target``.
    """
    if dialect.name == "sqlite":
        if pa.types.is_temporal(target) or pa.types.is_string(target):
            return pa.binary()
        if pa.types.is_decimal(target):
            return pa.float64()
        if pa.types.is_boolean(target):
            return pa.int64()
    if (dialect.name, dialect.driver) == ("postgresql", "psycopg") and (
        pa.types.is_decimal(target) or pa.types.is_date(target)
    ):
        return pa.string()
    if _is_pymysql(dialect) and pa.types.is_time(target):
        return pa.string()
    return target


def _is_pymysql(dialect: sa.Dialect) -> bool:
    return dialect.name in ("mysql", "mariadb") and dialect.driver == "pymysql"


def fetch_ahead(dialect: sa.Dialect) -> bool:
    """Whether fetching the next batch in a background thread speeds the read up.

    A database server computes and sends rows while the client waits without the GIL, so
    fetching ahead overlaps that wait with conversion. SQLite runs in-process and builds its
    rows under the GIL; a second thread would only contend for it (measured slower).

    Args:
        dialect: The SQLAlchemy dialect of the source connection.

    Returns:
        False for SQLite, True otherwise.
    """
    return dialect.name != "sqlite"


def open_streaming_cursor(connection: sa.Connection) -> Any:
    """Open a DBAPI cursor that fetches rows in batches rather than all at once.

    Args:
        connection: Open SQLAlchemy connection; the cursor lives in its transaction.

    Returns:
        A DBAPI cursor: a named (server-side) cursor on PostgreSQL, an unbuffered ``SSCursor``
        on MySQL/MariaDB through PyMySQL, a plain cursor otherwise. The connection's session is
        prepared for :func:`wire_type` (the pool never reuses it: the source uses ``NullPool``).
    """
    dialect = connection.dialect
    driver_connection: Any = connection.connection.driver_connection
    if dialect.name == "sqlite":
        driver_connection.text_factory = bytes  # see wire_type()
        return driver_connection.cursor()
    if _is_pymysql(dialect):
        return _pymysql_streaming_cursor(driver_connection)
    if dialect.name != "postgresql" or dialect.driver not in ("psycopg", "psycopg2"):
        return driver_connection.cursor()
    name = f"ingest_{os.getpid()}_{next(_cursor_numbers)}"
    cursor = driver_connection.cursor(name=name)
    if dialect.driver == "psycopg":
        from psycopg.types.string import TextLoader

        for type_name in ("numeric", "date"):
            cursor.adapters.register_loader(type_name, TextLoader)
    return cursor


def _pymysql_streaming_cursor(driver_connection: Any) -> Any:
    """An unbuffered PyMySQL cursor on a UTC session that returns ``TIME`` as text."""
    from pymysql.constants import FIELD_TYPE
    from pymysql.cursors import SSCursor

    driver_connection.decoders[FIELD_TYPE.TIME] = str  # the connection's own copy
    setup = driver_connection.cursor()
    try:
        setup.execute("SET time_zone = '+00:00'")
    finally:
        setup.close()
    return driver_connection.cursor(SSCursor)
