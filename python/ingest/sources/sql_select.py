"""The SELECT the SQL source runs: over a table or a custom query, compiled for the dialect.

The statement names every column (so the order matches the Arrow schema), renders columns that
Arrow cannot take directly as text (PostgreSQL arrays as JSON, everything else with
``CAST(... AS TEXT)``), and adds the inclusive lower bound of an incremental read (and the
inclusive upper bound of a window read). A custom query (``--query``) is wrapped as a subquery, so
the cursor filter applies to its result columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement, FromClause
from sqlalchemy.types import TypeEngine

from ingest.sources.base import CursorFilter
from ingest.type_mapping import ColumnType

QUERY_ALIAS = "_ingest_query"


@dataclass(frozen=True)
class SqlColumn:
    """A source column and how it is read.

    Attributes:
        name: Column name as the database reports it.
        sqlalchemy_type: Reflected (or described) SQLAlchemy type; binds the cursor's bound.
        read: Its Arrow type and whether the database must render it as text.
        nullable: False when the database guarantees no NULLs.
    """

    name: str
    sqlalchemy_type: TypeEngine[Any]
    read: ColumnType
    nullable: bool = True


def table_relation(table: str, schema: str | None, columns: Sequence[SqlColumn]) -> FromClause:
    """The table ``schema.table`` with the given columns, for :func:`compile_select`."""
    return sa.table(table, *(sa.column(c.name) for c in columns), schema=schema)


def query_relation(query: str, columns: Sequence[SqlColumn]) -> FromClause:
    """A custom SELECT as the subquery ``(<query>) AS _ingest_query``.

    Every ``:`` of the query is escaped, so PostgreSQL casts (``x::text``) and colons in string
    literals are sent as written instead of being taken for bind parameters; ``%`` is doubled by
    the dialect's compiler where the driver needs it.

    Args:
        query: One SELECT statement, without a trailing semicolon.
        columns: Its result columns, as described by :mod:`ingest.sources.sql_query`.

    Returns:
        The aliased subquery.
    """
    text = sa.text(query.replace(":", "\\:"))
    return text.columns(*(sa.column(c.name) for c in columns)).subquery(QUERY_ALIAS)


def _rendered(column: SqlColumn, expression: ColumnElement[Any], dialect: sa.Dialect) -> Any:
    """The expression selected for a column: itself, or its text rendering."""
    if not column.read.read_as_text:
        return expression
    if dialect.name == "postgresql" and isinstance(column.sqlalchemy_type, sa.ARRAY):
        # JSON keeps the nesting and element types readable ([1, 2]; PostgreSQL's own text
        # form would be {1,2}).
        expression = sa.func.to_json(expression)
    return sa.cast(expression, sa.Text).label(column.name)


def compile_select(
    dialect: sa.Dialect,
    relation: FromClause,
    columns: Sequence[SqlColumn],
    cursor: CursorFilter | None,
) -> tuple[str, Any]:
    """Compile ``SELECT <columns> FROM <relation> [WHERE <cursor> >= :lower_bound
    [AND <cursor> <= :upper_bound]]`` for a dialect.

    Args:
        dialect: The source connection's dialect.
        relation: From :func:`table_relation` or :func:`query_relation`.
        columns: Columns to select, in the order of the Arrow schema.
        cursor: Optional inclusive lower bound, with an optional inclusive upper bound; its
            column must be one of ``columns``.

    Returns:
        ``(sql, parameters)`` ready for the DBAPI cursor's ``execute``: parameters are a tuple
        for positional drivers, a dict otherwise, with the bounds already processed for the
        column's type (e.g. SQLite receives dates as ISO text).

    Raises:
        StopIteration: If the cursor column is not one of ``columns`` (the pipeline checks the
            column against the schema first).
    """
    selected = [_rendered(c, relation.c[c.name], dialect) for c in columns]
    statement = sa.select(*selected).select_from(relation)
    cursor_type: TypeEngine[Any] | None = None
    bounds: list[str] = []
    if cursor is not None:
        cursor_type = next(c.sqlalchemy_type for c in columns if c.name == cursor.column)
        column = relation.c[cursor.column]
        lower = sa.bindparam("lower_bound", cursor.lower_bound, type_=cursor_type)
        statement = statement.where(column >= lower)
        bounds.append("lower_bound")
        if cursor.upper_bound is not None:
            upper = sa.bindparam("upper_bound", cursor.upper_bound, type_=cursor_type)
            statement = statement.where(column <= upper)
            bounds.append("upper_bound")
    compiled = statement.compile(dialect=dialect)
    values = compiled.construct_params()
    if cursor_type is not None:
        process = cursor_type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            for name in bounds:
                values[name] = process(values[name])
    if dialect.positional:
        return str(compiled), tuple(values[name] for name in compiled.positiontup or ())
    return str(compiled), values
