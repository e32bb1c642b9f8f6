"""The SQL source: any database SQLAlchemy can reflect, read by the fastest reader that fits.

Tables are reflected with SQLAlchemy (column types and the declared primary key); a custom
SELECT (``--query``) is described by :mod:`ingest.sources.sql_query` instead. Rows are read by one
of three readers (:mod:`ingest.sources.sql_reader`, ``--reader``): DuckDB's scanners, ADBC, or
the ``sqlalchemy`` reader here, which compiles the SELECT for the dialect
(:mod:`ingest.sources.sql_select`), fetches rows with ``fetchmany`` from a streaming cursor (see
:mod:`ingest.sources.sql_drivers`) and converts them to Arrow column-wise.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import re
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import URL
from sqlalchemy.engine.interfaces import ReflectedColumn
from worker_kit.connection import describe_url

from ingest.background import iterate_in_background
from ingest.conversion import BatchConverter
from ingest.errors import (
    SourceConnectionError,
    SourceError,
    TableNotFoundError,
    UsageError,
)
from ingest.sources import sql_adbc, sql_scanner
from ingest.sources.base import CursorFilter, SourceTable
from ingest.sources.sql_drivers import fetch_ahead, open_streaming_cursor, wire_type
from ingest.sources.sql_query import QUERY_DIALECTS, describe_query, normalise_query
from ingest.sources.sql_reader import Reader, ReaderChoice, choose_reader
from ingest.sources.sql_select import (
    SqlColumn,
    compile_select,
    query_relation,
    table_relation,
)
from ingest.type_mapping import column_type

logger = logging.getLogger(__name__)

@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while rows stream.

    Every fetched row is a new tuple, so the collector would otherwise run every few hundred
    rows and scan all live rows of the batch; rows hold no reference cycles, so reference
    counting alone frees them. The collector's previous state is restored on exit.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class SqlSource:
    """Tables of one SQL database, or the result of one custom SELECT.

    Args:
        url: SQLAlchemy URL of the database.
        schema: Schema holding the tables (a database on MySQL/MariaDB); None for the
            connection's default schema.
        query: A custom SELECT to read instead of a table. :meth:`describe` then describes its
            result under whatever name it is given (the destination table's), with no primary
            key. Supported on PostgreSQL, MySQL/MariaDB and SQLite.
        snapshot: PostgreSQL only: an exported snapshot's name (``pg_export_snapshot()`` or a
            replication slot's ``EXPORT_SNAPSHOT``); every read then sees the database as of that
            snapshot (``REPEATABLE READ`` with ``SET TRANSACTION SNAPSHOT``).
        reader: ``--reader``: which reader reads (see :mod:`ingest.sources.sql_reader`).
        parallel: ``--parallel``: DuckDB threads (and PostgreSQL connections) of the
            ``duckdb-scanner`` reader; None for one per core.

    Raises:
        UsageError: If ``query`` is combined with ``schema``, is empty, or the database is not
            one ``query`` supports.
        SourceError: If the URL names a SQLite file that does not exist.
    """

    def __init__(self, url: URL, schema: str | None = None, query: str | None = None,
                 snapshot: str | None = None, reader: Reader = Reader.AUTO, parallel: int | None = None) -> None:
        if query is not None:
            query = _checked_query(url, schema, query)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            # Connecting would create an empty database file in place of the missing source.
            path = Path(url.database)
            if not path.is_file():
                raise SourceError(f"source {describe_url(url)}: SQLite file {path} does not exist")
        self._url = url
        self._schema = schema
        self._query = query
        if snapshot is not None and not re.fullmatch(r"[0-9A-F]+-[0-9A-F]+(-[0-9A-F]+)?", snapshot):
            raise UsageError(f"not an exported snapshot's name: {snapshot!r}")
        self._snapshot = snapshot
        if parallel is not None and parallel < 1:
            raise UsageError(f"--parallel must be at least 1, got {parallel}")
        self._reader = reader
        self._parallel = parallel
        self._logged_choices: set[tuple[str, Reader]] = set()
        self._engine = sa.create_engine(url, poolclass=sa.NullPool)
        self._columns: dict[str, list[SqlColumn]] = {}

    fixed_schema = True  # batches have exactly the described schema (a destination may stream them)

    def list_tables(self) -> list[str]:
        """Names of the tables and views in the source schema, sorted.

        Raises:
            SourceConnectionError: If the database cannot be reached.
            SourceError: If reflection fails for another reason.
        """
        with self._errors_mapped("listing tables"):
            inspector = sa.inspect(self._engine)
            names = inspector.get_table_names(self._schema) + inspector.get_view_names(self._schema)
        return sorted(names)

    def describe(self, table: str) -> SourceTable:
        """Reflect a table's columns and declared primary key (or describe the custom query).

        Args:
            table: Table or view name in the source schema; with a custom query, the name the
                query's result goes by.

        Returns:
            The table with its Arrow schema (see :func:`ingest.type_mapping.column_type`). A
            custom query has no primary key.

        Raises:
            TableNotFoundError: If no such table or view exists; the message lists them.
            SourceConnectionError: If the database cannot be reached.
            SourceError: If the database rejects the custom query, or it returns two columns
                of the same name.
        """
        if self._query is not None:
            with self._errors_mapped("describing the query"), self._engine.connect() as connection:
                described = describe_query(connection, self._query)
            names = [c["name"] for c in described]
            repeated = sorted({name for name in names if names.count(name) > 1})
            if repeated:
                raise SourceError(
                    f"the query returns column(s) {', '.join(repeated)} more than once; "
                    f"give each result column its own alias"
                )
            return self._described(table, described, ())
        tables = self.list_tables()
        if table not in tables:
            where = f" schema {self._schema!r} of" if self._schema else ""
            listing = ", ".join(tables) if tables else "(none)"
            raise TableNotFoundError(
                f"table {table!r} not found in{where} source; tables: {listing}"
            )
        with self._errors_mapped(f"reflecting {table!r}"):
            inspector = sa.inspect(self._engine)
            reflected = inspector.get_columns(table, self._schema)
            primary_key = inspector.get_pk_constraint(table, self._schema)
        key = tuple(primary_key.get("constrained_columns") or ())
        return self._described(table, reflected, key)

    def read(
        self, table: SourceTable, batch_size: int, cursor: CursorFilter | None
    ) -> Generator[pa.RecordBatch, None, None]:
        """Stream a table in batches of at most ``batch_size`` rows.

        Args:
            table: The table as returned by :meth:`describe` of this source, or a copy whose
                schema keeps only some of its columns (only those are selected: the key columns
                of ``--reconcile-keys``).
            batch_size: Rows fetched and converted at a time.
            cursor: Optional inclusive lower bound on a cursor column.

        Yields:
            Record batches with schema ``table.schema``.

        Raises:
            ConversionError: If a value does not fit its column's Arrow type.
            SourceConnectionError: If the connection drops.
            SourceError: If the database rejects the query.
        """
        columns = self._selected(table)
        choice = self.reader_for(table)
        if choice.reader is Reader.DUCKDB_SCANNER:
            batches = sql_scanner.read_batches(self._scan_plan(table, columns, cursor), table.schema, batch_size)
            with self._errors_mapped(f"reading {table.name!r}"), contextlib.closing(batches):
                yield from batches
            return
        relation = (
            table_relation(table.name, self._schema, columns)
            if self._query is None
            else query_relation(self._query, columns)
        )
        if choice.reader is Reader.ADBC:
            dialect = sql_adbc.adbc_dialect(self._engine.dialect)
            statement, parameters = compile_select(dialect, relation, columns, cursor)
            batches = sql_adbc.read_batches(self._url, statement, parameters, table.schema, batch_size)
            with self._errors_mapped(f"reading {table.name!r}"), contextlib.closing(batches):
                yield from batches
            return
        statement, parameters = compile_select(self._engine.dialect, relation, columns, cursor)
        converter = BatchConverter(
            table.schema, [wire_type(self._engine.dialect, c.read.arrow_type) for c in columns]
        )

        def fetch() -> Generator[list[Any], None, None]:
            with self._engine.connect() as connection, _cyclic_gc_paused():
                if self._snapshot is not None:  # the first statements of the read's transaction
                    connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    connection.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{self._snapshot}'")
                dbapi_cursor = open_streaming_cursor(connection)
                try:
                    dbapi_cursor.execute(statement, parameters)
                    while rows := dbapi_cursor.fetchmany(batch_size):
                        yield rows
                finally:
                    dbapi_cursor.close()

        # With a database server, the fetch runs one batch ahead in its own thread: the server
        # produces the next rows while this thread converts the current ones.
        rows_ahead = (
            iterate_in_background(fetch, depth=1, name=f"fetch-{table.name}")
            if fetch_ahead(self._engine.dialect)
            else fetch()
        )
        with self._errors_mapped(f"reading {table.name!r}"), contextlib.closing(rows_ahead):
            for rows in rows_ahead:
                yield converter.convert(rows)

    def reader_for(self, table: SourceTable) -> ReaderChoice:
        """The reader that reads ``table`` (as :meth:`describe` returned it, or a subset of its
        columns); the first choice per table and reader is logged.

        Raises:
            UsageError: If ``--reader`` or ``--parallel`` cannot read this table.
        """
        choice = choose_reader(self._reader, self._url.get_backend_name(), self._selected(table),
                               query=self._query is not None, snapshot=self._snapshot is not None,
                               parallel=self._parallel)
        if (table.name, choice.reader) not in self._logged_choices:
            self._logged_choices.add((table.name, choice.reader))
            logger.info("reading %s with the %s reader (%s)", table.name, choice.reader, choice.reason)
            if choice.reader is Reader.DUCKDB_SCANNER and self._url.get_backend_name() == "postgresql":
                self._warn_without_statistics(table.name)
        return choice

    def _warn_without_statistics(self, table: str) -> None:
        with self._errors_mapped(f"reading the statistics of {table!r}"), self._engine.connect() as connection:
            pages = sql_scanner.pages_without_statistics(connection, self._schema, table)
        if pages is not None:
            logger.warning("%s has no planner statistics (pg_class.relpages is 0, the table has %s pages): DuckDB's "
                           "scanner reads it on one connection; run ANALYZE on it (is autovacuum off?) for a "
                           "parallel read", table, f"{pages:,}")

    def scan_plan(self, table: SourceTable, cursor: CursorFilter | None) -> sql_scanner.ScanPlan | None:
        """The read as DuckDB SQL when the ``duckdb-scanner`` reader reads it, else None.

        A DuckDB destination runs the plan inside its load transaction instead of staging batches.

        Raises:
            UsageError: As :meth:`reader_for`.
            SourceError: If the scanner extension is missing.
        """
        if self.reader_for(table).reader is not Reader.DUCKDB_SCANNER:
            return None
        return self._scan_plan(table, self._selected(table), cursor)

    def _scan_plan(self, table: SourceTable, columns: list[SqlColumn],
                   cursor: CursorFilter | None) -> sql_scanner.ScanPlan:
        return sql_scanner.scan_plan(self._url, self._schema, table.name, columns, cursor, self._parallel)

    def _selected(self, table: SourceTable) -> list[SqlColumn]:
        """The described columns ``table``'s schema keeps, in order."""
        wanted = set(table.schema.names)
        return [c for c in self._columns[table.name] if c.name in wanted]

    def close(self) -> None:
        """Dispose of the engine's connections."""
        self._engine.dispose()

    def _described(
        self, table: str, reflected: list[ReflectedColumn], key: tuple[str, ...]
    ) -> SourceTable:
        """Remember how each column is read; the table with its Arrow schema and key."""
        columns = [
            SqlColumn(
                c["name"],
                c["type"],
                column_type(c["type"], f"{table}.{c['name']}"),
                bool(c.get("nullable", True)),
            )
            for c in reflected
        ]
        self._columns[table] = columns
        schema = pa.schema(
            [pa.field(c.name, c.read.arrow_type, nullable=c.nullable) for c in columns]
        )
        # A reflected primary key is a constraint the database enforces.
        return SourceTable(table, schema, key, primary_key_enforced=bool(key))

    @contextlib.contextmanager
    def _errors_mapped(self, action: str) -> Iterator[None]:
        """Turn database errors into source errors naming the action and the (masked) URL."""
        try:
            yield
        except sa.exc.OperationalError as exc:
            raise SourceConnectionError(self._message(action, exc.orig or exc)) from exc
        except sa.exc.SQLAlchemyError as exc:
            raise SourceError(self._message(action, exc)) from exc
        except duckdb.ConversionException as exc:  # a value the scanner's CAST refused
            raise sql_scanner.conversion_error(exc, f"source {describe_url(self._url)}: {action}") from exc
        except duckdb.IOException as exc:  # the scanner could not attach or read the source
            raise SourceConnectionError(self._message(action, exc)) from exc
        except duckdb.Error as exc:
            raise SourceError(self._message(action, exc)) from exc
        except Exception as exc:
            for dbapi in (self._engine.dialect.dbapi, _adbc_dbapi()):
                if dbapi is not None and isinstance(exc, dbapi.OperationalError):
                    raise SourceConnectionError(self._message(action, exc)) from exc
                if dbapi is not None and isinstance(exc, dbapi.Error):
                    raise SourceError(self._message(action, exc)) from exc
            raise

    def _message(self, action: str, exc: BaseException) -> str:
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        return f"source {describe_url(self._url)}: {action}: {first}"


def _adbc_dbapi() -> Any:
    """ADBC's DBAPI module (its exception classes), or None when ADBC is not installed."""
    try:
        import adbc_driver_manager.dbapi as dbapi
    except ImportError:
        return None
    return dbapi


def _checked_query(url: URL, schema: str | None, query: str) -> str:
    """Validate a custom query's options; returns the query ready to wrap as a subquery."""
    if schema is not None:
        raise UsageError(
            "--query cannot be combined with --schema; qualify the tables inside the query"
        )
    normalised = normalise_query(query)
    if not normalised:
        raise UsageError("--query must hold a SELECT statement")
    backend = url.get_backend_name()
    if backend not in QUERY_DIALECTS:
        raise UsageError(
            f"--query is supported for {', '.join(QUERY_DIALECTS)} sources, not {backend}"
        )
    return normalised
