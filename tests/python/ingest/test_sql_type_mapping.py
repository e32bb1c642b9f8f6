"""MySQL/MariaDB column types -> Arrow types (table-driven; the portable and PostgreSQL cases are
in test_type_mapping.py)."""

from __future__ import annotations

import pyarrow as pa
import pytest
import sqlalchemy as sa
from ingest.type_mapping import UNSIGNED_BIGINT, ColumnType, column_type
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeEngine

TEXT = ColumnType(pa.string(), read_as_text=True)

CASES = [
    (mysql.BIGINT(unsigned=True), ColumnType(UNSIGNED_BIGINT)),
    (mysql.BIGINT(), ColumnType(pa.int64())),
    (mysql.INTEGER(unsigned=True), ColumnType(pa.int64())),
    (mysql.SMALLINT(unsigned=True), ColumnType(pa.int64())),
    (mysql.TINYINT(display_width=1), ColumnType(pa.int64())),
    (mysql.YEAR(), ColumnType(pa.int64())),
    (mysql.DECIMAL(10, 3, unsigned=True), ColumnType(pa.decimal128(10, 3))),
    (mysql.DECIMAL(65, 30), TEXT),
    (mysql.DOUBLE(asdecimal=True), ColumnType(pa.float64())),
    (mysql.FLOAT(), ColumnType(pa.float64())),
    (mysql.DATETIME(fsp=6), ColumnType(pa.timestamp("us"))),
    (mysql.TIMESTAMP(fsp=6), ColumnType(pa.timestamp("us", tz="UTC"))),
    (mysql.TIME(), ColumnType(pa.time64("us"))),
    (mysql.BLOB(), ColumnType(pa.binary())),
    (mysql.VARBINARY(8), ColumnType(pa.binary())),
    (sa.BINARY(16), ColumnType(pa.binary())),
    (mysql.LONGTEXT(), ColumnType(pa.string())),
    (mysql.ENUM("a", "b"), ColumnType(pa.string())),
    (mysql.SET("a", "b"), ColumnType(pa.string())),
    (mysql.JSON(), TEXT),
    (sa.Uuid(), TEXT),
]


@pytest.mark.parametrize(("sqlalchemy_type", "expected"), CASES, ids=repr)
def test_mysql_column_type(sqlalchemy_type: TypeEngine[object], expected: ColumnType) -> None:
    assert column_type(sqlalchemy_type) == expected


def test_unsigned_bigint_holds_its_maximum() -> None:
    assert pa.array([2**64 - 1], UNSIGNED_BIGINT)[0].as_py() == 2**64 - 1
