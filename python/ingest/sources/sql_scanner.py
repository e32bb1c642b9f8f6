"""The ``duckdb-scanner`` reader: DuckDB's own PostgreSQL and SQLite scanners read the source.

DuckDB attaches the source database read-only (``ATTACH ... (TYPE postgres|sqlite, READ_ONLY)``)
and scans it in C++, in parallel: the PostgreSQL scanner splits a table into ``ctid`` page
ranges read on several connections that share one exported snapshot (so the parallel read is
consistent), the SQLite scanner into ``rowid`` ranges. Every column is cast in the SELECT to the
worker's type for it (:mod:`ingest.type_mapping`), so the result is exactly what the other
readers produce: SQLite's scanner alone would land ``DECIMAL(15,2)`` as ``DOUBLE``.

The extensions come from PyPI wheels pinned in ``requirements.txt``
(``duckdb-extension-postgres-scanner``, ``duckdb-extension-sqlite-scanner``, the same version as
``duckdb``); nothing is downloaded at run time.

A :class:`ScanPlan` is the scan as SQL: the DuckDB destination runs it inside its own load
transaction (no staging file at all, see :mod:`ingest.destinations.duckdb`); any other
destination gets Arrow batches from :func:`read_batches`.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import URL

from ingest.conversion import cast_array
from ingest.errors import ConversionError, SourceError
from ingest.sources.base import CursorFilter
from ingest.sources.sql_select import SqlColumn

# The attached source's name inside DuckDB.
SOURCE_ALIAS = "_ingest_source"
_SECRET = "_ingest_source_secret"
_EXTENSIONS = {"postgresql": ("duckdb_extension_postgres_scanner", "postgres_scanner", "postgres"),
               "sqlite": ("duckdb_extension_sqlite_scanner", "sqlite_scanner", "sqlite")}


def scanner_backends() -> tuple[str, ...]:
    """SQLAlchemy backend names the scanner reads: ``postgresql``, ``sqlite``."""
    return tuple(_EXTENSIONS)


def extension_path(backend: str) -> Path:
    """The scanner extension file shipped by its PyPI wheel, for the installed DuckDB.

    Raises:
        SourceError: If the wheel is missing or holds no build for this DuckDB version.
    """
    package, name, _ = _EXTENSIONS[backend]
    try:
        module = importlib.import_module(package)
    except ImportError as exc:
        raise SourceError(f"the duckdb-scanner reader needs the {package.replace('_', '-')} "
                          f"package (python/requirements.txt): {exc}") from exc
    path = Path(module.__file__ or "").parent / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not path.is_file():
        raise SourceError(f"no {name} extension for duckdb {duckdb.__version__} at {path}; pin "
                          f"{package.replace('_', '-')} to the same version as duckdb")
    return path


PAGES_PER_TASK = 1000
"""DuckDB's ``pg_pages_per_task`` default: a table of fewer pages is one task of the parallel scan."""


def pages_without_statistics(connection: sa.Connection, schema: str | None, table: str) -> int | None:
    """A PostgreSQL table's size in pages when its statistics say 0 pages and it is larger than one
    scan task; None otherwise (statistics present, a small table, or no such table).

    DuckDB's postgres scanner splits a table into ``ctid`` ranges by ``pg_class.relpages``: a table
    never analysed (autovacuum off, or just loaded) is read on one connection. Measured on SF 1
    ``lineitem`` into DuckDB on 2 cores: 8.6 s unanalysed, 6.0 s after ``VACUUM ANALYZE``.
    """
    qualified = f"{_quote(schema or 'public')}.{_quote(table)}"
    row = connection.execute(sa.text(
        "SELECT relpages, pg_relation_size(oid) / current_setting('block_size')::int "
        "FROM pg_class WHERE oid = to_regclass(:name)"), {"name": qualified}).first()
    if row is None or row[0] > 0 or row[1] <= PAGES_PER_TASK:
        return None
    return int(row[1])


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def duckdb_type(arrow_type: pa.DataType) -> str:
    """The DuckDB SQL type a column of ``arrow_type`` is cast to in the scan.

    Raises:
        ValueError: For an Arrow type the worker's type mapping never produces.
    """
    if pa.types.is_decimal(arrow_type):
        return f"DECIMAL({arrow_type.precision}, {arrow_type.scale})"
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMPTZ" if arrow_type.tz else "TIMESTAMP"
    simple = {pa.int64(): "BIGINT", pa.float64(): "DOUBLE", pa.bool_(): "BOOLEAN", pa.date32(): "DATE",
              pa.time64("us"): "TIME", pa.string(): "VARCHAR", pa.binary(): "BLOB"}
    if arrow_type in simple:
        return simple[arrow_type]
    raise ValueError(f"no DuckDB type for {arrow_type}")


def unscannable_columns(backend: str, columns: Sequence[SqlColumn]) -> list[str]:
    """Columns the scanner cannot read exactly as the other readers do, as ``name (type)``.

    Columns read as text by the other readers render in the source database's own text form;
    DuckDB renders UUID and JSON identically, but not arrays, intervals or unknown types. The
    PostgreSQL scanner reads a ``NUMERIC`` without precision as a DOUBLE (digits lost); the
    SQLite scanner takes a declared ``TIME`` for a timestamp and fails on ``07:45:30``.
    """
    def unscannable(column: SqlColumn) -> bool:
        if column.read.read_as_text:
            return not isinstance(column.sqlalchemy_type, sa.Uuid | sa.JSON)
        if backend == "postgresql":
            kind = column.sqlalchemy_type
            return isinstance(kind, sa.Numeric) and not isinstance(kind, sa.Float) and kind.precision is None
        return backend == "sqlite" and pa.types.is_time(column.read.arrow_type)

    return [f"{c.name} ({c.sqlalchemy_type})" for c in columns if unscannable(c)]


@dataclass(frozen=True)
class ScanPlan:
    """One table read, as DuckDB SQL.

    Attributes:
        extension: Scanner extension file to ``LOAD``.
        setup: Statements that attach the source as :data:`SOURCE_ALIAS` (a temporary secret
            holds the PostgreSQL password, so it never appears in an ``ATTACH`` string). Both
            live as long as the connection (DuckDB detaches nothing inside a transaction).
        select: The SELECT, every column cast to the worker's type, with ``$lower``/``$upper``
            parameters for a cursor filter.
        parameters: The named parameters of ``select``.
        threads: DuckDB threads for the scan (``--parallel``); None for DuckDB's default (one
            per core).
    """

    extension: Path
    setup: tuple[str, ...]
    select: str
    parameters: dict[str, Any] = field(default_factory=dict)
    threads: int | None = None

    def prepare(self, connection: duckdb.DuckDBPyConnection) -> None:
        """Load the extension, attach the source and set the session up for the scan."""
        connection.load_extension(str(self.extension))
        connection.execute("SET TimeZone = 'UTC'")  # timestamptz values leave as UTC
        if self.threads is not None:
            connection.execute(f"SET threads = {int(self.threads)}")
        for statement in self.setup:
            connection.execute(statement)


def _attach(url: URL, schema: str | None) -> tuple[tuple[str, ...], str]:
    """The setup statements and the qualified table prefix for a source URL."""
    backend = url.get_backend_name()
    if backend == "sqlite":
        if schema is not None:
            raise SourceError("the duckdb-scanner reader reads a SQLite file's main schema only; "
                              "drop --schema or use --reader sqlalchemy")
        return (f"ATTACH {_literal(str(url.database))} AS {SOURCE_ALIAS} (TYPE sqlite, READ_ONLY)",), SOURCE_ALIAS
    options = {"HOST": url.host or "localhost", "PORT": str(url.port or 5432), "DATABASE": url.database or "",
               "USER": url.username or "", "PASSWORD": url.password or ""}
    secret = ", ".join(f"{key} {_literal(str(value))}" for key, value in options.items() if value)
    extra = " ".join(f"{key}={value}" for key, value in url.query.items() if isinstance(value, str))
    setup = (f"CREATE OR REPLACE TEMPORARY SECRET {_SECRET} (TYPE postgres, {secret})",
             f"ATTACH {_literal(extra)} AS {SOURCE_ALIAS} (TYPE postgres, SECRET {_SECRET}, READ_ONLY)")
    return setup, f"{SOURCE_ALIAS}.{_quote(schema or 'public')}"


def scan_plan(url: URL, schema: str | None, table: str, columns: Sequence[SqlColumn],
              cursor: CursorFilter | None, threads: int | None = None) -> ScanPlan:
    """The scan of ``columns`` of one table, filtered on the cursor's bounds.

    Args:
        url: The source's SQLAlchemy URL (``postgresql`` or ``sqlite`` backend).
        schema: Source schema (PostgreSQL; default ``public``).
        table: Table name.
        columns: Columns in the order of the Arrow schema; none may be in
            :func:`unscannable_columns`.
        cursor: Optional inclusive bounds on the cursor column.
        threads: See :attr:`ScanPlan.threads`.

    Raises:
        SourceError: If the extension is missing, or a SQLite source is given a schema.
    """
    setup, prefix = _attach(url, schema)
    selected = ", ".join(f"CAST({_quote(c.name)} AS {duckdb_type(c.read.arrow_type)}) AS {_quote(c.name)}"
                         for c in columns)
    select = f"SELECT {selected} FROM {prefix}.{_quote(table)}"
    parameters: dict[str, Any] = {}
    if cursor is not None:
        column = _quote(cursor.column)
        cursor_type = duckdb_type(next(c.read.arrow_type for c in columns if c.name == cursor.column))
        select += f" WHERE {column} >= CAST($lower AS {cursor_type})"
        parameters["lower"] = cursor.lower_bound
        if cursor.upper_bound is not None:
            select += f" AND {column} <= CAST($upper AS {cursor_type})"
            parameters["upper"] = cursor.upper_bound
    return ScanPlan(extension_path(url.get_backend_name()), setup, select, parameters, threads)


def conversion_error(exc: duckdb.ConversionException, context: str) -> ConversionError:
    """A value the scan's CAST refused, as the worker's error naming the column DuckDB names.

    Args:
        exc: DuckDB's error (``... when casting from source column amount``).
        context: Where, e.g. the masked source URL and the action.
    """
    text = str(exc).strip()
    column = re.search(r"source column (\S+)", text)
    where = f"column {column.group(1)!r}: " if column else ""
    return ConversionError(f"{where}{context}: {text.splitlines()[0] if text else type(exc).__name__}")


def read_batches(plan: ScanPlan, schema: pa.Schema, batch_size: int) -> Generator[pa.RecordBatch, None, None]:
    """Run the scan in an in-memory DuckDB and stream the result as batches of ``schema``.

    Raises:
        duckdb.Error: If DuckDB cannot attach or read the source (the caller maps it).
    """
    connection = duckdb.connect(config={"memory_limit": "256MB"})
    try:
        plan.prepare(connection)
        reader = connection.execute(plan.select, plan.parameters or None).fetch_record_batch(batch_size)
        for batch in reader:
            if batch.schema.types != schema.types:
                arrays = [cast_array(array, f.type) for array, f in zip(batch.columns, schema, strict=True)]
            else:
                arrays = batch.columns
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)
    finally:
        connection.close()
