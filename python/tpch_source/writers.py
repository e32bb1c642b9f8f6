"""Write Arrow record batches into a target table: SQLite by ``executemany``, PostgreSQL by COPY.

Both writers run inside the caller's SQLAlchemy transaction, on its DBAPI connection, and hold
one batch in memory at a time.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import sqlalchemy as sa
from psycopg import sql

_CSV_OPTIONS = pa_csv.WriteOptions(include_header=False, quoting_style="needed")


def write_batches(
    connection: sa.Connection, table: sa.Table, batches: Iterable[pa.RecordBatch]
) -> int:
    """Insert record batches into ``table`` using the fastest path of the connection's dialect.

    Args:
        connection: Open connection inside a transaction; SQLite or PostgreSQL (psycopg 3).
        table: Target table; the batches' columns must match its columns in order.
        batches: Record batches to insert.

    Returns:
        Number of rows inserted.

    Raises:
        ValueError: If the dialect is neither SQLite nor PostgreSQL.
    """
    dialect = connection.dialect.name
    if dialect == "sqlite":
        return _write_sqlite(connection, table, batches)
    if dialect == "postgresql":
        return _write_postgres(connection, table, batches)
    raise ValueError(f"unsupported target dialect {dialect!r}")


def _write_sqlite(
    connection: sa.Connection, table: sa.Table, batches: Iterable[pa.RecordBatch]
) -> int:
    """``executemany`` one batch at a time, values converted column-wise to SQLite's storage."""
    quote = connection.dialect.identifier_preparer.quote
    placeholders = ", ".join("?" for _ in table.columns)
    statement = f"INSERT INTO {quote(table.name)} VALUES ({placeholders})"
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    rows = 0
    try:
        for batch in batches:
            columns = [_sqlite_values(column) for column in batch.columns]
            cursor.executemany(statement, zip(*columns, strict=True))
            rows += batch.num_rows
    finally:
        cursor.close()
    return rows


def _sqlite_values(column: pa.Array) -> list[object]:
    """Python values SQLite stores natively: dates as ISO text, decimals as REAL (its NUMERIC)."""
    if pa.types.is_date(column.type):
        column = pc.cast(column, pa.string())
    elif pa.types.is_decimal(column.type):
        column = pc.cast(column, pa.float64())
    values: list[object] = column.to_pylist()
    return values


def _write_postgres(
    connection: sa.Connection, table: sa.Table, batches: Iterable[pa.RecordBatch]
) -> int:
    """``COPY ... FROM STDIN (FORMAT csv)`` with each batch rendered to CSV by Arrow."""
    target = (
        sql.Identifier(table.schema, table.name) if table.schema else sql.Identifier(table.name)
    )
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        target, sql.SQL(", ").join(sql.Identifier(column.name) for column in table.columns)
    )
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    rows = 0
    try:
        with cursor.copy(statement) as copy:
            for batch in batches:
                sink = pa.BufferOutputStream()
                pa_csv.write_csv(batch, sink, _CSV_OPTIONS)
                copy.write(memoryview(sink.getvalue()))
                rows += batch.num_rows
    finally:
        cursor.close()
    return rows
