"""The SQL source against real SQLite and PostgreSQL: reflection, every mapped type, filters."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa
from ingest.errors import TableNotFoundError
from ingest.sources import CursorFilter
from ingest.sources.sql import SqlSource
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url

WHEN = dt.datetime(2024, 5, 1, 12, 30, 15, 250000)
ROW = {
    "id": 1,
    "amount": Decimal("1234.567"),
    "ratio": 0.25,
    "active": True,
    "due": dt.date(2024, 5, 31),
    "created": WHEN,
    "at": dt.time(7, 45, 30),
    "name": "Ünïcode ✓",
    "payload": b"\x00\x01binary",
}
EXPECTED_TYPES = {
    "id": pa.int64(),
    "amount": pa.decimal128(10, 3),
    "ratio": pa.float64(),
    "active": pa.bool_(),
    "due": pa.date32(),
    "created": pa.timestamp("us"),
    "at": pa.time64("us"),
    "name": pa.string(),
    "payload": pa.binary(),
}


def portable_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("amount", sa.Numeric(10, 3)),
        sa.Column("ratio", sa.Float),
        sa.Column("active", sa.Boolean),
        sa.Column("due", sa.Date),
        sa.Column("created", sa.DateTime),
        sa.Column("at", sa.Time),
        sa.Column("name", sa.String(40)),
        sa.Column("payload", sa.LargeBinary),
    ]


def create(url: str, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.begin() as connection:
            table.create(connection)
            if rows:
                connection.execute(table.insert(), rows)
    finally:
        engine.dispose()


def read_all(source: SqlSource, name: str, cursor: CursorFilter | None = None) -> pa.Table:
    table = source.describe(name)
    return pa.Table.from_batches(list(source.read(table, 2, cursor)), schema=table.schema)


def test_every_portable_type_arrives_with_its_value(database: tuple[str, str | None]) -> None:
    url, schema = database
    table = sa.Table("typed", sa.MetaData(schema=schema), *portable_columns())
    empty = {key: None for key in ROW} | {"id": 2}
    create(url, table, [ROW, empty])
    source = SqlSource(make_url(url), schema)
    try:
        described = source.describe("typed")
        loaded = read_all(source, "typed")
    finally:
        source.close()

    assert {f.name: f.type for f in described.schema} == EXPECTED_TYPES
    assert described.primary_key == ("id",)
    assert described.primary_key_enforced
    assert loaded.to_pylist() == [ROW, empty]


@pytest.mark.postgres
def test_every_postgres_type_arrives_with_its_value(postgres_schema: Any) -> None:
    key = uuid.uuid4()
    table = sa.Table(
        "special",
        sa.MetaData(schema=postgres_schema.schema),
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("small", sa.SmallInteger),
        sa.Column("medium", sa.Integer),
        sa.Column("big", sa.BigInteger),
        sa.Column("money", sa.Numeric(15, 2)),
        sa.Column("unbounded", sa.Numeric),
        sa.Column("single", postgresql.REAL),
        sa.Column("double", postgresql.DOUBLE_PRECISION),
        sa.Column("flag", sa.Boolean),
        sa.Column("day", sa.Date),
        sa.Column("wall", sa.DateTime(timezone=False)),
        sa.Column("seen", sa.DateTime(timezone=True)),
        sa.Column("clock", sa.Time),
        sa.Column("doc", postgresql.JSONB),
        sa.Column("raw_doc", postgresql.JSON),
        sa.Column("payload", postgresql.BYTEA),
        sa.Column("tags", postgresql.ARRAY(sa.Integer)),
        sa.Column("grid", postgresql.ARRAY(sa.Text, dimensions=2)),
        sa.Column("wait", postgresql.INTERVAL),
    )
    seen = dt.datetime(2024, 5, 1, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    create(
        postgres_schema.url,
        table,
        [{"id": key, "small": -32768, "medium": 2**31 - 1, "big": -(2**63),
          "money": Decimal("-0.01"), "unbounded": Decimal("12345678901234567890.123456789"),
          "single": 0.5, "double": 0.1, "flag": False, "day": dt.date(1, 1, 1), "wall": WHEN,
          "seen": seen, "clock": dt.time(23, 59, 59, 999999), "doc": {"a": [1, None]},
          "raw_doc": {"b": "x"}, "payload": b"\x00\xff", "tags": [1, 2],
          "grid": [["a", "b"], ["c", None]], "wait": dt.timedelta(hours=2)}],
    )  # fmt: skip
    source = SqlSource(make_url(postgres_schema.url), postgres_schema.schema)
    try:
        loaded = read_all(source, "special")
    finally:
        source.close()

    assert {f.name: str(f.type) for f in loaded.schema} == {
        "id": "string", "small": "int64", "medium": "int64", "big": "int64",
        "money": "decimal128(15, 2)", "unbounded": "decimal128(38, 9)", "single": "double",
        "double": "double", "flag": "bool", "day": "date32[day]", "wall": "timestamp[us]",
        "seen": "timestamp[us, tz=UTC]", "clock": "time64[us]", "doc": "string",
        "raw_doc": "string", "payload": "binary", "tags": "string", "grid": "string",
        "wait": "string",
    }  # fmt: skip
    assert loaded.to_pylist() == [
        {
            "id": str(key),
            "small": -32768,
            "medium": 2**31 - 1,
            "big": -(2**63),
            "money": Decimal("-0.01"),
            "unbounded": Decimal("12345678901234567890.123456789"),
            "single": 0.5,
            "double": 0.1,
            "flag": False,
            "day": dt.date(1, 1, 1),
            "wall": WHEN,
            "seen": dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC),
            "clock": dt.time(23, 59, 59, 999999),
            "doc": '{"a": [1, null]}',
            "raw_doc": '{"b": "x"}',
            "payload": b"\x00\xff",
            "tags": "[1,2]",
            "grid": '[["a","b"],["c",null]]',
            "wait": "02:00:00",
        }
    ]


@pytest.mark.parametrize(
    ("column", "bound", "expected_ids"),
    [
        pytest.param("due", dt.date(2024, 1, 2), [2, 3], id="date"),
        pytest.param("created", dt.datetime(2024, 1, 3, 0, 0), [3], id="timestamp"),
        pytest.param("amount", Decimal("2.000"), [2, 3], id="decimal"),
        pytest.param("id", 3, [3, 4], id="integer"),
    ],
)
def test_cursor_filter_is_inclusive(
    database: tuple[str, str | None], column: str, bound: object, expected_ids: list[int]
) -> None:
    assert read_events(database, CursorFilter(column, bound)) == expected_ids


def read_events(database: tuple[str, str | None], cursor: CursorFilter) -> list[int]:
    """Ids read with ``cursor`` from events 1..3 (a date, timestamp, decimal each) and 4 (all NULL)."""
    url, schema = database
    table = sa.Table("events", sa.MetaData(schema=schema), *portable_columns())
    create(
        url,
        table,
        [
            {"id": i, "due": dt.date(2024, 1, i), "created": dt.datetime(2024, 1, i, 0, 0),
             "amount": Decimal(i)}
            for i in (1, 2, 3)
        ]
        + [{"id": 4, "due": None, "created": None, "amount": None}],  # NULL: in no window
    )  # fmt: skip
    source = SqlSource(make_url(url), schema)
    try:
        return read_all(source, "events", cursor).column("id").to_pylist()
    finally:
        source.close()


@pytest.mark.parametrize(
    ("column", "lower", "upper", "expected_ids"),
    [
        pytest.param("due", dt.date(2024, 1, 1), dt.date(2024, 1, 2), [1, 2], id="date"),
        pytest.param("created", dt.datetime(2024, 1, 2, 0, 0), dt.datetime(2024, 1, 2, 0, 0),
                     [2], id="timestamp"),
        pytest.param("amount", Decimal("2.000"), Decimal("3.000"), [2, 3], id="decimal"),
        pytest.param("id", 2, 2, [2], id="integer"),
    ],
)  # fmt: skip
def test_window_filter_is_inclusive_at_both_ends(
    database: tuple[str, str | None],
    column: str,
    lower: object,
    upper: object,
    expected_ids: list[int],
) -> None:
    assert read_events(database, CursorFilter(column, lower, upper_bound=upper)) == expected_ids


def test_views_are_listed_and_have_no_enforced_key(database: tuple[str, str | None]) -> None:
    url, schema = database
    table = sa.Table("base", sa.MetaData(schema=schema), *portable_columns())
    create(url, table, [ROW])
    prefix = f"{schema}." if schema else ""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.begin() as connection:
        connection.execute(
            sa.text(f"CREATE VIEW {prefix}base_view AS SELECT id, name FROM {prefix}base")
        )
    engine.dispose()
    source = SqlSource(make_url(url), schema)
    try:
        assert source.list_tables() == ["base", "base_view"]
        view = source.describe("base_view")
        with pytest.raises(
            TableNotFoundError, match=r"table 'bse' not found .*tables: base, base_view"
        ):
            source.describe("bse")
    finally:
        source.close()

    assert view.primary_key == ()
    assert not view.primary_key_enforced
