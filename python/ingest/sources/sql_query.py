"""Describe the result columns of a custom SELECT (``--query``) as SQLAlchemy reflection would.

A table's column types come from reflection; a query has no catalog entry, so each database is
asked in the way that gives the same types reflection would, without reading any row:

* PostgreSQL: the query runs with ``LIMIT 0`` and the type OIDs of the result are named by
  ``format_type``; precision and scale of ``numeric`` come from the cursor description. Nothing
  is created, so this works on read replicas.
* MySQL/MariaDB: ``CREATE TEMPORARY TABLE ... AS SELECT * FROM (<query>) LIMIT 0`` is reflected,
  then dropped (the cursor description cannot tell text from BLOB, or signed from unsigned).
  Needs the ``CREATE TEMPORARY TABLES`` privilege.
* SQLite: a ``TEMP VIEW`` over the query is reflected, then dropped. SQLite only knows the
  declared type of columns taken straight from a table; computed columns (``a * 2``,
  ``count(*)``) have none and are read as text.

Temporary objects live in the connection that created them and vanish with it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine.interfaces import ReflectedColumn
from sqlalchemy.types import TypeEngine

QUERY_DIALECTS = ("postgresql", "mysql", "mariadb", "sqlite")
_DESCRIBED = "_ingest_query_columns"
_TRAILING = re.compile(r"[\s;]+$")
# format_type names whose SQLAlchemy class needs timezone=True.
_WITH_TIME_ZONE = ("timestamp with time zone", "time with time zone")


def normalise_query(query: str) -> str:
    """The query without surrounding whitespace and trailing semicolons (it becomes a subquery).

    Args:
        query: Text of ``--query``.

    Returns:
        The trimmed query; empty if it held nothing but whitespace and semicolons.
    """
    return _TRAILING.sub("", query.strip())


def describe_query(connection: sa.Connection, query: str) -> list[ReflectedColumn]:
    """The result columns of ``query``, in order, without reading its rows.

    Args:
        connection: Open connection to the source; temporary objects are created in it.
        query: A SELECT statement (see :func:`normalise_query`).

    Returns:
        One entry per result column with ``name``, ``type`` (a SQLAlchemy type; ``NullType``
        when the database does not know it) and ``nullable`` (True unless known otherwise).

    Raises:
        ValueError: If the dialect is not one of :data:`QUERY_DIALECTS`.
        Exception: The driver's DBAPI error (or SQLAlchemy's, from reflection) if the database
            rejects the query; :class:`~ingest.sources.sql.SqlSource` turns it into a
            ``SourceError``.
    """
    describe = _DESCRIBERS.get(connection.dialect.name)
    if describe is None:
        raise ValueError(f"--query is not supported for {connection.dialect.name} sources")
    return describe(connection, query)


def _postgres(connection: sa.Connection, query: str) -> list[ReflectedColumn]:
    driver_cursor: Any = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        driver_cursor.execute(f"SELECT * FROM ({query}) AS {_DESCRIBED} LIMIT 0")
        description = list(driver_cursor.description)
        oids = sorted({int(column[1]) for column in description})
        driver_cursor.execute(
            "SELECT oid, format_type(oid, NULL), typcategory = 'A' FROM pg_catalog.pg_type "
            "WHERE oid = ANY(%s)",
            (oids,),
        )
        names = {int(oid): (str(name), bool(is_array)) for oid, name, is_array in driver_cursor}
    finally:
        driver_cursor.close()
    columns: list[ReflectedColumn] = []
    for name, oid, _, _, precision, scale, _ in description:
        type_name, is_array = names.get(int(oid), ("unknown", False))
        columns.append(
            {
                "name": str(name),
                "type": _postgres_type(connection.dialect, type_name, is_array, precision, scale),
                "nullable": True,
                "default": None,
            }
        )
    return columns


def _postgres_type(
    dialect: sa.Dialect, name: str, is_array: bool, precision: int | None, scale: int | None
) -> TypeEngine[Any]:
    """A ``format_type`` name (``numeric``, ``integer[]``, ...) as a SQLAlchemy type."""
    if is_array:
        element = _postgres_type(dialect, name.removesuffix("[]"), False, None, None)
        return sa.ARRAY(element)
    type_class: Any = getattr(dialect, "ischema_names", {}).get(name)
    if type_class is None:
        return sa.types.NullType()
    if name in _WITH_TIME_ZONE:
        return type_class(timezone=True)  # type: ignore[no-any-return]
    if name == "numeric" and precision is not None:
        return type_class(precision, scale)  # type: ignore[no-any-return]
    return type_class()  # type: ignore[no-any-return]


def _mysql(connection: sa.Connection, query: str) -> list[ReflectedColumn]:
    table = sa.table(_DESCRIBED)
    name = connection.dialect.identifier_preparer.format_table(table)
    _execute(connection, f"CREATE TEMPORARY TABLE {name} AS SELECT * FROM ({query}) AS q LIMIT 0")
    try:
        return sa.inspect(connection).get_columns(_DESCRIBED)
    finally:
        _execute(connection, f"DROP TEMPORARY TABLE {name}")


def _sqlite(connection: sa.Connection, query: str) -> list[ReflectedColumn]:
    name = connection.dialect.identifier_preparer.quote(_DESCRIBED)
    _execute(connection, f"CREATE TEMP VIEW {name} AS {query}")
    try:
        return sa.inspect(connection).get_columns(_DESCRIBED, schema="temp")
    finally:
        _execute(connection, f"DROP VIEW temp.{name}")


def _execute(connection: sa.Connection, statement: str) -> None:
    """Run a statement through the driver as written (no parameter or ``%`` processing)."""
    driver_cursor: Any = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        driver_cursor.execute(statement)
    finally:
        driver_cursor.close()


_DESCRIBERS: dict[str, Callable[[sa.Connection, str], list[ReflectedColumn]]] = {
    "postgresql": _postgres,
    "mysql": _mysql,
    "mariadb": _mysql,
    "sqlite": _sqlite,
}
