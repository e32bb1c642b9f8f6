"""The SQL source: any database SQLAlchemy can reflect, read with a streaming DBAPI cursor.

Tables are reflected with SQLAlchemy (column types and the declared primary key); the SELECT is
compiled by SQLAlchemy for the dialect; rows are fetched with ``fetchmany`` from a streaming
cursor (see :mod:`ingest.sources.sql_drivers`) and converted to Arrow column-wise.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import URL
from sqlalchemy.types import TypeEngine
from worker_kit.connection import describe_url

from ingest.background import iterate_in_background
from ingest.conversion import BatchConverter
from ingest.errors import SourceConnectionError, SourceError, TableNotFoundError
from ingest.sources.base import CursorFilter, SourceTable
from ingest.sources.sql_drivers import fetch_ahead, open_streaming_cursor, wire_type
from ingest.type_mapping import ColumnType, column_type


@dataclass(frozen=True)
class _Column:
    """A reflected source column and how it is read."""

    name: str
    sqlalchemy_type: TypeEngine[Any]
    read: ColumnType


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
    """Tables of one SQL database.

    Args:
        url: SQLAlchemy URL of the database.
        schema: Schema holding the tables; None for the connection's default schema.

    Raises:
        SourceError: If the URL names a SQLite file that does not exist.
    """

    def __init__(self, url: URL, schema: str | None = None) -> None:
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            # Connecting would create an empty database file in place of the missing source.
            path = Path(url.database)
            if not path.is_file():
                raise SourceError(f"source {describe_url(url)}: SQLite file {path} does not exist")
        self._url = url
        self._schema = schema
        self._engine = sa.create_engine(url, poolclass=sa.NullPool)
        self._columns: dict[str, list[_Column]] = {}

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
        """Reflect a table's columns and declared primary key.

        Args:
            table: Table or view name in the source schema.

        Returns:
            The table with its Arrow schema (see :func:`ingest.type_mapping.column_type`).

        Raises:
            TableNotFoundError: If no such table or view exists; the message lists them.
            SourceConnectionError: If the database cannot be reached.
        """
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
        columns = [
            _Column(c["name"], c["type"], column_type(c["type"], f"{table}.{c['name']}"))
            for c in reflected
        ]
        self._columns[table] = columns
        schema = pa.schema(
            [
                pa.field(c.name, c.read.arrow_type, nullable=bool(r.get("nullable", True)))
                for c, r in zip(columns, reflected, strict=True)
            ]
        )
        key = tuple(primary_key.get("constrained_columns") or ())
        # A reflected primary key is a constraint the database enforces.
        return SourceTable(table, schema, key, primary_key_enforced=bool(key))

    def read(
        self, table: SourceTable, batch_size: int, cursor: CursorFilter | None
    ) -> Generator[pa.RecordBatch, None, None]:
        """Stream a table in batches of at most ``batch_size`` rows.

        Args:
            table: The table as returned by :meth:`describe` of this source.
            batch_size: Rows fetched and converted at a time.
            cursor: Optional inclusive lower bound on a cursor column.

        Yields:
            Record batches with schema ``table.schema``.

        Raises:
            ConversionError: If a value does not fit its column's Arrow type.
            SourceConnectionError: If the connection drops.
            SourceError: If the database rejects the query.
        """
        columns = self._columns[table.name]
        statement, parameters = self._select(columns, table.name, cursor)
        converter = BatchConverter(
            table.schema, [wire_type(self._engine.dialect, c.read.arrow_type) for c in columns]
        )

        def fetch() -> Generator[list[Any], None, None]:
            with self._engine.connect() as connection, _cyclic_gc_paused():
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

    def close(self) -> None:
        """Dispose of the engine's connections."""
        self._engine.dispose()

    def _select(
        self, columns: list[_Column], table: str, cursor: CursorFilter | None
    ) -> tuple[str, Any]:
        """Compile the SELECT for the dialect and build the DBAPI parameters."""
        source = sa.table(table, schema=self._schema)
        selected = [
            sa.cast(sa.column(c.name), sa.Text).label(c.name)
            if c.read.read_as_text
            else sa.column(c.name)
            for c in columns
        ]
        statement = sa.select(*selected).select_from(source)
        cursor_type: TypeEngine[Any] | None = None
        if cursor is not None:
            cursor_type = next(c.sqlalchemy_type for c in columns if c.name == cursor.column)
            bound = sa.bindparam("lower_bound", cursor.lower_bound, type_=cursor_type)
            statement = statement.where(sa.column(cursor.column) >= bound)
        dialect = self._engine.dialect
        compiled = statement.compile(dialect=dialect)
        values = compiled.construct_params()
        if cursor is not None and cursor_type is not None:
            process = cursor_type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                values["lower_bound"] = process(values["lower_bound"])
        if dialect.positional:
            return str(compiled), tuple(values[name] for name in compiled.positiontup or ())
        return str(compiled), values

    @contextlib.contextmanager
    def _errors_mapped(self, action: str) -> Iterator[None]:
        """Turn database errors into source errors naming the action and the (masked) URL."""
        try:
            yield
        except sa.exc.OperationalError as exc:
            raise SourceConnectionError(self._message(action, exc.orig or exc)) from exc
        except sa.exc.SQLAlchemyError as exc:
            raise SourceError(self._message(action, exc)) from exc
        except Exception as exc:
            dbapi = self._engine.dialect.dbapi
            if dbapi is not None and isinstance(exc, dbapi.OperationalError):
                raise SourceConnectionError(self._message(action, exc)) from exc
            if dbapi is not None and isinstance(exc, dbapi.Error):
                raise SourceError(self._message(action, exc)) from exc
            raise

    def _message(self, action: str, exc: BaseException) -> str:
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        return f"source {describe_url(self._url)}: {action}: {first}"
