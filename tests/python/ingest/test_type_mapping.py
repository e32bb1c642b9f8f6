"""Reflected SQLAlchemy column types -> Arrow types of the staged batches (table-driven)."""

from __future__ import annotations

import logging

import pyarrow as pa
import pytest
import sqlalchemy as sa
from ingest.type_mapping import UNBOUNDED_DECIMAL, ColumnType, column_type
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.types import TypeEngine

TEXT = ColumnType(pa.string(), read_as_text=True)

CASES = [
    (sa.Integer(), ColumnType(pa.int64())),
    (sa.BigInteger(), ColumnType(pa.int64())),
    (sa.SmallInteger(), ColumnType(pa.int64())),
    (sa.Numeric(15, 2), ColumnType(pa.decimal128(15, 2))),
    (sa.Numeric(10), ColumnType(pa.decimal128(10, 0))),
    (sa.Numeric(), ColumnType(UNBOUNDED_DECIMAL)),
    (sa.Numeric(50, 4), TEXT),
    (sa.Float(), ColumnType(pa.float64())),
    (postgresql.DOUBLE_PRECISION(), ColumnType(pa.float64())),
    (postgresql.REAL(), ColumnType(pa.float64())),
    (sa.Date(), ColumnType(pa.date32())),
    (sqlite.DATE(), ColumnType(pa.date32())),
    (sa.DateTime(), ColumnType(pa.timestamp("us"))),
    (sa.DateTime(timezone=True), ColumnType(pa.timestamp("us", tz="UTC"))),
    (postgresql.TIMESTAMP(timezone=True), ColumnType(pa.timestamp("us", tz="UTC"))),
    (sqlite.DATETIME(), ColumnType(pa.timestamp("us"))),
    (sa.Time(), ColumnType(pa.time64("us"))),
    (sa.Boolean(), ColumnType(pa.bool_())),
    (sa.String(), ColumnType(pa.string())),
    (sa.String(25), ColumnType(pa.string())),
    (sa.Text(), ColumnType(pa.string())),
    (sa.Enum("a", "b", name="grade"), ColumnType(pa.string())),
    (sa.LargeBinary(), ColumnType(pa.binary())),
    (postgresql.BYTEA(), ColumnType(pa.binary())),
    (sa.Uuid(), TEXT),
    (postgresql.UUID(), TEXT),
    (sa.JSON(), TEXT),
    (postgresql.JSONB(), TEXT),
    (postgresql.ARRAY(sa.Integer()), TEXT),
    (postgresql.INTERVAL(), TEXT),
    (sa.Interval(), TEXT),
]


@pytest.mark.parametrize(("sqlalchemy_type", "expected"), CASES, ids=repr)
def test_column_type(sqlalchemy_type: TypeEngine[object], expected: ColumnType) -> None:
    assert column_type(sqlalchemy_type) == expected


@pytest.mark.parametrize(
    "unknown", [sa.types.NullType(), postgresql.INET(), postgresql.TSVECTOR()], ids=repr
)
def test_unknown_types_are_read_as_text_with_a_warning(
    unknown: TypeEngine[object], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="ingest.type_mapping"):
        assert column_type(unknown, "events.payload") == TEXT

    assert "events.payload" in caplog.text
    assert "reading it as text" in caplog.text
