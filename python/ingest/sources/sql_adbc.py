"""The ``adbc`` reader: Arrow Database Connectivity drivers stream Arrow record batches.

``adbc-driver-postgresql`` reads a result with ``COPY ... TO STDOUT (FORMAT binary)`` and decodes
it to Arrow in C; ``adbc-driver-sqlite`` steps through the result in C. No Python object is
built per value. The SELECT is the one the ``sqlalchemy`` reader runs
(:func:`ingest.sources.sql_select.compile_select`: columns Arrow cannot take are rendered as
text by the database), compiled with the driver's parameter style (``$1`` for PostgreSQL, ``?``
for SQLite). Each batch is then cast to the worker's types with the same rules as the other
readers (:func:`ingest.conversion.cast_array`): PostgreSQL ``numeric`` arrives as text (ADBC's
opaque extension type) and is parsed exactly; SQLite's dynamically typed values arrive as the
driver infers them (REAL for decimals, text for dates) and are cast.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Iterator
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import URL

from ingest.conversion import cast_array
from ingest.errors import ConversionError, SourceError

ADBC_BACKENDS = ("postgresql", "sqlite")
# Bytes of COPY data the PostgreSQL driver decodes per batch (its default is 16 MB).
_POSTGRES_BATCH_BYTES = 32 * 1024 * 1024


def adbc_dialect(dialect: sa.Dialect) -> sa.Dialect:
    """A dialect compiling SELECTs with the ADBC driver's parameter style."""
    if dialect.name == "postgresql":
        return type(dialect)(paramstyle="numeric_dollar")
    return dialect  # SQLite's qmark is ADBC SQLite's style too


def _postgres_uri(url: URL) -> str:
    """The libpq URI of a SQLAlchemy PostgreSQL URL (any driver)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.contextmanager
def _connected(url: URL) -> Iterator[Any]:
    """An ADBC DBAPI connection to the source.

    Raises:
        SourceError: If the driver package is not installed.
    """
    backend = url.get_backend_name()
    try:
        if backend == "postgresql":
            import adbc_driver_postgresql.dbapi as driver

            connection = driver.connect(_postgres_uri(url))
        else:
            import adbc_driver_sqlite.dbapi as driver

            connection = driver.connect(str(url.database))
    except ImportError as exc:
        raise SourceError(f"the adbc reader needs adbc-driver-{backend} (python/requirements.txt): {exc}") from exc
    try:
        yield connection
    finally:
        connection.close()


def _storage(array: pa.Array) -> pa.Array:
    """An extension array's storage (ADBC's opaque ``numeric``, ``arrow.json``, ``arrow.uuid``)."""
    return array.storage if isinstance(array.type, pa.ExtensionType) else array


def _cast(array: pa.Array, target: pa.DataType) -> pa.Array:
    """The batch's column in the worker's type; a column of NULLs only (which ADBC SQLite types
    as int64 when a batch holds no value to infer from) becomes NULLs of ``target``."""
    if array.null_count == len(array):
        return pa.nulls(len(array), target)
    return cast_array(_storage(array), target)


def read_batches(url: URL, statement: str, parameters: Any, schema: pa.Schema,
                 batch_size: int) -> Generator[pa.RecordBatch, None, None]:
    """Run one SELECT through ADBC and yield batches of ``schema``.

    Args:
        url: The source's SQLAlchemy URL (``postgresql`` or ``sqlite`` backend).
        statement: The SELECT compiled by :func:`adbc_dialect`'s dialect.
        parameters: Its positional parameters (tuple).
        schema: Target schema; the result has one column per field, in order.
        batch_size: Rows per batch for SQLite (the PostgreSQL driver batches by bytes).

    Raises:
        ConversionError: If a value does not fit its column's type (names the column).
        SourceError: If the driver is not installed.
        Exception: The driver's own errors (``adbc_driver_manager.Error``) for the caller to map.
    """
    with _connected(url) as connection, connection.cursor() as cursor:
        if url.get_backend_name() == "sqlite":
            cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(batch_size)})
        else:
            cursor.adbc_statement.set_options(
                **{"adbc.postgresql.batch_size_hint_bytes": str(_POSTGRES_BATCH_BYTES)})
        cursor.execute(statement, tuple(parameters) if parameters else None)
        rows_before = 0
        for batch in cursor.fetch_record_batch():
            arrays = []
            for array, target in zip(batch.columns, schema, strict=True):
                try:
                    arrays.append(_cast(array, target.type))
                except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError) as exc:
                    rows = f"rows {rows_before + 1:,}-{rows_before + batch.num_rows:,}"
                    reason = str(exc).strip().splitlines()[0]
                    raise ConversionError(f"column {target.name!r} ({target.type}), {rows}: {reason}") from None
            rows_before += batch.num_rows
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)
