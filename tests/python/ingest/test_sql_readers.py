"""The three readers of the sql source (``--reader``) read the same values, on real SQLite and PostgreSQL.

The ``sqlalchemy`` reader's values are pinned exactly in test_sql_source.py; here every other
reader must produce the same Arrow table, type for type and value for value, and loads through
each reader (staged, streamed or scanned into the load transaction) behave the same.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa
from ingest.errors import UsageError
from ingest.sources import CursorFilter
from ingest.sources.sql import SqlSource
from ingest.sources.sql_reader import Reader, choose_reader
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url

from tests.python.ingest.test_sql_source import ROW, create, portable_columns

READERS = [Reader.SQLALCHEMY, Reader.ADBC, Reader.DUCKDB_SCANNER]


def read(url: str, schema: str | None, name: str, reader: Reader, cursor: CursorFilter | None = None,
         batch_size: int = 2) -> pa.Table:
    source = SqlSource(make_url(url), schema, reader=reader)
    try:
        table = source.describe(name)
        return pa.Table.from_batches(list(source.read(table, batch_size, cursor)), schema=table.schema)
    finally:
        source.close()


@pytest.mark.parametrize("reader", READERS, ids=str)
def test_portable_types_read_identically(database: tuple[str, str | None], reader: Reader) -> None:
    url, schema = database
    sqlite = url.startswith("sqlite")
    # SQLite's scanner takes a declared TIME for a timestamp: the scanner refuses it (see below).
    columns = [c for c in portable_columns() if not (sqlite and reader is Reader.DUCKDB_SCANNER and c.name == "at")]
    table = sa.Table("typed", sa.MetaData(schema=schema), *columns)
    row = {c.name: ROW[c.name] for c in columns}
    rows = [row, {key: None for key in row} | {"id": 2}, {**row, "id": 3, "amount": Decimal("-0.001")}]
    create(url, table, rows)

    loaded = read(url, schema, "typed", reader)

    assert loaded.equals(read(url, schema, "typed", Reader.SQLALCHEMY))
    assert loaded.to_pylist() == rows


@pytest.mark.postgres
@pytest.mark.parametrize("reader", READERS, ids=str)
def test_postgres_types_read_identically(postgres_schema: Any, reader: Reader) -> None:
    table = sa.Table(
        "special", sa.MetaData(schema=postgres_schema.schema),
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("money", sa.Numeric(15, 2)),
        # NUMERIC without precision: DuckDB's scanner would read a DOUBLE, so auto does not use it there
        *([] if reader is Reader.DUCKDB_SCANNER else [sa.Column("unbounded", sa.Numeric)]),
        sa.Column("seen", sa.DateTime(timezone=True)),
        sa.Column("wall", sa.DateTime),
        sa.Column("doc", postgresql.JSONB),
        sa.Column("raw_doc", postgresql.JSON),
        sa.Column("clock", sa.Time),
        sa.Column("payload", postgresql.BYTEA),
    )  # fmt: skip
    seen = dt.datetime(2024, 5, 1, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    rows = [
        {"id": uuid.uuid4(), "money": Decimal("-0.01"),
         **({} if reader is Reader.DUCKDB_SCANNER else {"unbounded": Decimal("12345678901234567890.123456789")}),
         "seen": seen, "wall": dt.datetime(1, 1, 1), "doc": {"a": [1, None], "é": "✓"}, "raw_doc": {"b": "x"},
         "clock": dt.time(23, 59, 59, 999999), "payload": b"\x00\xff"},
        {"id": uuid.uuid4(), **{column.name: None for column in table.columns if column.name != "id"}},
    ]  # fmt: skip
    create(postgres_schema.url, table, rows)

    loaded = read(postgres_schema.url, postgres_schema.schema, "special", reader)

    reference = read(postgres_schema.url, postgres_schema.schema, "special", Reader.SQLALCHEMY)
    assert loaded.equals(reference)
    first = {key: value for key, value in loaded.to_pylist()[0].items()}
    assert first["seen"] == dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
    assert first["doc"] == '{"a": [1, null], "é": "✓"}'
    assert loaded.schema.field("money").type == pa.decimal128(15, 2)


@pytest.mark.parametrize("reader", READERS, ids=str)
def test_empty_table_and_cursor_bounds(database: tuple[str, str | None], reader: Reader) -> None:
    url, schema = database
    empty = sa.Table("empty", sa.MetaData(schema=schema), *portable_columns()[:6])
    create(url, empty, [])
    counted = sa.Table("counted", sa.MetaData(schema=schema), sa.Column("id", sa.Integer, primary_key=True),
                       sa.Column("at", sa.DateTime))
    base = dt.datetime(2024, 1, 1)
    create(url, counted, [{"id": i, "at": base + dt.timedelta(hours=i)} for i in range(10)])

    assert read(url, schema, "empty", reader).num_rows == 0
    window = CursorFilter("at", base + dt.timedelta(hours=3), base + dt.timedelta(hours=6))
    assert read(url, schema, "counted", reader, window).column("id").to_pylist() == [3, 4, 5, 6]


@pytest.mark.postgres
def test_auto_picks_the_scanner_and_falls_back_with_the_reason(postgres_schema: Any,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    table = sa.Table("mixed", sa.MetaData(schema=postgres_schema.schema), sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("tags", postgresql.ARRAY(sa.Integer)), sa.Column("wait", postgresql.INTERVAL),
                     sa.Column("amount", sa.Numeric))
    create(postgres_schema.url, table, [{"id": 1, "tags": [1, 2], "wait": dt.timedelta(hours=2),
                                         "amount": Decimal("12345678901234567890.123456789")}])
    plain = sa.Table("plain", sa.MetaData(schema=postgres_schema.schema), sa.Column("id", sa.Integer, primary_key=True))
    create(postgres_schema.url, plain, [{"id": 1}])
    source = SqlSource(make_url(postgres_schema.url), postgres_schema.schema)
    try:
        with caplog.at_level("INFO", logger="ingest.sources.sql"):
            assert source.reader_for(source.describe("plain")).reader is Reader.DUCKDB_SCANNER
            assert source.reader_for(source.describe("mixed")).reader is Reader.ADBC
        assert "reading mixed with the adbc reader (auto: not the scanner (columns tags (ARRAY), wait " \
               "(INTERVAL), amount (NUMERIC) do not read exactly through DuckDB))" in caplog.text
        assert read(postgres_schema.url, postgres_schema.schema, "mixed", Reader.AUTO).to_pylist() == [
            {"id": 1, "tags": "[1,2]", "wait": "02:00:00", "amount": Decimal("12345678901234567890.123456789")}]
    finally:
        source.close()
    forced = SqlSource(make_url(postgres_schema.url), postgres_schema.schema, reader=Reader.DUCKDB_SCANNER)
    try:
        with pytest.raises(UsageError, match=r"--reader duckdb-scanner cannot read this: columns tags"):
            forced.reader_for(forced.describe("mixed"))
    finally:
        forced.close()


def test_choice_rules_for_other_databases_queries_and_parallel() -> None:
    assert choose_reader(Reader.AUTO, "mysql", [], query=False, snapshot=False, parallel=None).reader \
        is Reader.SQLALCHEMY
    assert choose_reader(Reader.AUTO, "postgresql", [], query=True, snapshot=False, parallel=None).reader \
        is Reader.ADBC
    assert choose_reader(Reader.AUTO, "postgresql", [], query=False, snapshot=True, parallel=None).reader \
        is Reader.SQLALCHEMY
    with pytest.raises(UsageError, match="--reader adbc cannot read this: it reads postgresql, sqlite only, not mysql"):
        choose_reader(Reader.ADBC, "mysql", [], query=False, snapshot=False, parallel=None)
    with pytest.raises(UsageError, match="--parallel 4 needs --reader duckdb-scanner"):
        choose_reader(Reader.ADBC, "postgresql", [], query=False, snapshot=False, parallel=4)
    with pytest.raises(UsageError, match="--parallel 4 needs the duckdb-scanner reader, which cannot read this"):
        choose_reader(Reader.AUTO, "postgresql", [], query=True, snapshot=False, parallel=4)


def uncompressed_table(postgres_schema: Any, name: str, rows: int, analyse: bool) -> int:
    """A table of ``rows`` rows of 2 KB stored uncompressed (4 rows per 8 KB page); its page count."""
    engine = sa.create_engine(postgres_schema.url, poolclass=sa.NullPool, isolation_level="AUTOCOMMIT")
    qualified = f'"{postgres_schema.schema}"."{name}"'
    with engine.connect() as connection:
        connection.exec_driver_sql(f"CREATE TABLE {qualified} (id integer PRIMARY KEY, pad text)")
        connection.exec_driver_sql(f"ALTER TABLE {qualified} ALTER COLUMN pad SET STORAGE PLAIN")
        connection.exec_driver_sql(f"INSERT INTO {qualified} SELECT g, repeat('x', 2000) FROM generate_series(1, {rows}) g")
        if analyse:
            connection.exec_driver_sql(f"ANALYZE {qualified}")
        pages = connection.exec_driver_sql(f"SELECT pg_relation_size('{qualified}') / 8192").scalar_one()
    engine.dispose()
    return int(pages)


@pytest.mark.postgres
def test_parallel_scan_of_a_table_reads_every_row_once(postgres_schema: Any) -> None:
    """--parallel 2: DuckDB splits the table into ctid page ranges read on two connections that
    share one snapshot (8,000 rows of 2 KB: 2,000 pages, analysed, over its 1,000 pages per task)."""
    assert uncompressed_table(postgres_schema, "wide", 8000, analyse=True) >= 2000
    source = SqlSource(make_url(postgres_schema.url), postgres_schema.schema, reader=Reader.DUCKDB_SCANNER, parallel=2)
    try:
        described = source.describe("wide")
        ids = pa.Table.from_batches(list(source.read(described, 1000, None))).column("id").to_pylist()
    finally:
        source.close()

    assert sorted(ids) == list(range(1, 8001))
    with pytest.raises(UsageError, match="--parallel must be at least 1"):
        SqlSource(make_url(postgres_schema.url), parallel=0)


@pytest.mark.postgres
def test_a_large_table_never_analysed_is_named_in_a_warning(postgres_schema: Any,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    """DuckDB's scanner plans its parallel read on pg_class.relpages, 0 until the table is analysed."""
    pages = uncompressed_table(postgres_schema, "unanalysed", 6000, analyse=False)
    uncompressed_table(postgres_schema, "analysed", 6000, analyse=True)
    source = SqlSource(make_url(postgres_schema.url), postgres_schema.schema)
    try:
        with caplog.at_level("WARNING", logger="ingest.sources.sql"):
            source.reader_for(source.describe("analysed"))
            assert caplog.text == ""
            source.reader_for(source.describe("unanalysed"))
    finally:
        source.close()
    assert (f"unanalysed has no planner statistics (pg_class.relpages is 0, the table has {pages:,} pages): "
            "DuckDB's scanner reads it on one connection; run ANALYZE on it") in caplog.text
