"""``--query``: a custom SELECT described without reading rows, read as a subquery (so the
incremental filter applies to its result), on real SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pytest
import sqlalchemy as sa
from ingest.errors import SourceError, UsageError
from ingest.sources import CursorFilter
from ingest.sources.sql import SqlSource
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from conftest import SourceDatabase

# ':' and '%' must reach the database as written; the LIKE keeps rows 1 and 3.
QUERY = (
    "SELECT o.id, o.amount * 2 AS doubled, o.placed, 'a:b 100%' AS label "
    "FROM {orders} o WHERE o.note LIKE '%keep%' ORDER BY o.id;"
)
ROWS = [
    {"id": 1, "amount": Decimal("1.25"), "placed": dt.date(2024, 1, 1), "note": "keep"},
    {"id": 2, "amount": Decimal("2.50"), "placed": dt.date(2024, 1, 2), "note": "drop"},
    {"id": 3, "amount": Decimal("3.75"), "placed": dt.date(2024, 1, 3), "note": "keep too"},
]


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def orders_source(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, str, str]]:
    """``(dialect, url, query)``: a database holding ``ROWS`` in ``orders``; the query names the
    table with its schema (a database on MariaDB) where the database has schemas."""
    if request.param == "sqlite":
        url, schema = f"sqlite:///{tmp_path / 'source.sqlite'}", None
    elif request.param == "postgres":
        postgres = request.getfixturevalue("postgres_schema")
        url, schema = postgres.url, postgres.schema
    else:
        mariadb = request.getfixturevalue("mariadb_database")
        url, schema = mariadb.url, mariadb.name
    table = sa.Table(
        "orders",
        sa.MetaData(schema=schema),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("amount", sa.Numeric(10, 2)),
        sa.Column("placed", sa.Date),
        sa.Column("note", sa.String(20)),
    )
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.begin() as connection:
        table.create(connection)
        connection.execute(table.insert(), ROWS)
    engine.dispose()
    yield request.param, url, QUERY.format(orders=f"{schema}.orders" if schema else "orders")


# What each database knows about `amount * 2`: SQLite declares no type for an expression.
DOUBLED = {
    "sqlite": (pa.string(), ["2.5", "7.5"]),
    "postgres": (pa.decimal128(38, 9), [Decimal("2.500000000"), Decimal("7.500000000")]),
    "mariadb": (pa.decimal128(11, 2), [Decimal("2.50"), Decimal("7.50")]),
}


def read(url: str, query: str, cursor: CursorFilter | None = None) -> tuple[Any, pa.Table]:
    source = SqlSource(make_url(url), query=query)
    try:
        table = source.describe("big_orders")
        return table, pa.Table.from_batches(list(source.read(table, 2, cursor)), table.schema)
    finally:
        source.close()


def test_query_is_described_then_read_with_its_filter(
    orders_source: tuple[str, str, str],
) -> None:
    dialect, url, query = orders_source

    described, loaded = read(url, query)
    _, filtered = read(url, query, CursorFilter("placed", dt.date(2024, 1, 2)))
    _, windowed = read(
        url, query, CursorFilter("placed", dt.date(2024, 1, 1), upper_bound=dt.date(2024, 1, 2))
    )

    doubled_type, doubled = DOUBLED[dialect]
    assert described.name == "big_orders"
    assert (described.primary_key, described.primary_key_enforced) == ((), False)
    assert described.schema.names == ["id", "doubled", "placed", "label"]
    assert described.schema.field("doubled").type == doubled_type
    assert described.schema.field("placed").type == pa.date32()
    assert loaded.to_pydict() == {
        "id": [1, 3],
        "doubled": doubled,
        "placed": [dt.date(2024, 1, 1), dt.date(2024, 1, 3)],
        "label": ["a:b 100%", "a:b 100%"],
    }
    assert filtered.column("id").to_pylist() == [3]
    assert windowed.column("id").to_pylist() == [1]


@pytest.mark.parametrize(
    ("url", "schema", "query", "fragment"),
    [
        pytest.param("sqlite:///x.sqlite", "sales", "SELECT 1", "cannot be combined with --schema",
                     id="with-schema"),
        pytest.param("sqlite:///x.sqlite", None, " ; ", "must hold a SELECT", id="empty"),
        pytest.param("mssql+pyodbc://h/db", None, "SELECT 1", "not mssql", id="dialect"),
    ],
)  # fmt: skip
def test_invalid_query_options(url: str, schema: str | None, query: str, fragment: str) -> None:
    with pytest.raises(UsageError, match=fragment):
        SqlSource(make_url(url), schema, query)


def test_rejected_query_names_the_step(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite"
    path.touch()  # an empty file is an empty SQLite database
    source = SqlSource(make_url(f"sqlite:///{path}"), query="SELECT nope FROM missing")
    try:
        with pytest.raises(SourceError, match=r"describing the query: .*no such table: missing"):
            source.describe("x")
    finally:
        source.close()


@pytest.mark.postgres
def test_repeated_column_names_are_refused(postgres_url: str) -> None:
    source = SqlSource(make_url(postgres_url), query="SELECT 1 AS id, 2 AS id")
    try:
        with pytest.raises(SourceError, match=r"returns column\(s\) id more than once"):
            source.describe("x")
    finally:
        source.close()


def test_worker_merges_and_filters_a_query(sqlite_db: SourceDatabase) -> None:
    query = (
        "SELECT o_orderkey AS order_key, o_orderdate AS ordered_on, c.c_name AS customer "
        "FROM orders o JOIN customer c ON c.c_custkey = o.o_custkey"
    )
    args = ("--query", query, "--table", "customer_orders",
            "--incremental-cursor", "ordered_on", "--initial-value", "1998-07-01")  # fmt: skip

    refused = sqlite_db.ingest(*args)
    first = sqlite_db.ingest(*args, "--primary-key", "order_key")
    rerun = sqlite_db.ingest(*args, "--primary-key", "order_key")
    with_schema = sqlite_db.ingest(*args, "--schema", "main")

    assert refused.returncode == 1
    assert "merge needs a primary key but source table 'customer_orders' declares none" in (
        refused.stderr
    )
    expected = sqlite_db.scalar("SELECT count(*) FROM orders WHERE o_orderdate >= '1998-07-01'")
    assert first.returncode == 0, first.stderr
    assert (first.summary["rows_written"], first.summary["watermark"]) == (expected, "1998-08-02")
    assert first.summary["destination_table"] == "raw.customer_orders"
    assert rerun.summary["rows_written"] == 0
    assert rerun.summary["rows_read"] == sqlite_db.scalar(
        "SELECT count(*) FROM orders WHERE o_orderdate = '1998-08-02'"
    )
    rows = sqlite_db.rows("raw.customer_orders", "order_key, ordered_on, customer")
    assert len(rows) == expected
    assert isinstance(rows[0][1], dt.date)
    assert with_schema.returncode == 2
    assert "--query cannot be combined with --schema" in with_schema.stderr
