"""The postgres destination in process against the real PostgreSQL: every Arrow type a source
stages becomes a PostgreSQL column and reads back with the same value, through COPY (CSV)."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from ingest.destinations import LoadRequest, WriteDisposition
from ingest.destinations.postgres import PostgresDestination
from ingest.destinations.postgres_types import postgres_type
from ingest.errors import DestinationError, SchemaConflictError
from sqlalchemy.engine import make_url

pytestmark = pytest.mark.postgres

UTC = dt.UTC
# (Arrow type, PostgreSQL type, values written, values read back where they differ)
TYPES: list[tuple[str, pa.DataType, str, list[Any]]] = [
    ("small", pa.int16(), "smallint", [-32768, 32767, None]),
    ("medium", pa.int32(), "integer", [-(2**31), 2**31 - 1, None]),
    ("big", pa.int64(), "bigint", [-(2**63), 2**63 - 1, None]),
    ("unsigned", pa.uint64(), "numeric(20,0)", [0, 2**64 - 1, None]),
    ("money", pa.decimal128(15, 2), "numeric(15,2)", [Decimal("-0.01"), Decimal("1e12"), None]),
    ("wide", pa.decimal128(38, 9), "numeric(38,9)", [Decimal("12345678901234567890.123456789"),
                                                    Decimal("0E-9"), None]),
    ("single", pa.float32(), "real", [0.5, -3.25, None]),
    ("double", pa.float64(), "double precision", [0.1 + 0.2, 5e-324, None]),
    ("flag", pa.bool_(), "boolean", [True, False, None]),
    ("text", pa.string(), "text", ['say "hi",\nbye', "", None]),
    ("blob", pa.binary(), "bytea", [b"\x00\x01\xff", b"", None]),
    ("day", pa.date32(), "date", [dt.date(1, 1, 1), dt.date(9999, 12, 31), None]),
    ("naive", pa.timestamp("us"), "timestamp without time zone",
     [dt.datetime(2024, 5, 1, 12, 30, 15, 250000), dt.datetime(1970, 1, 1), None]),
    ("aware", pa.timestamp("us", tz="UTC"), "timestamp with time zone",
     [dt.datetime(2024, 5, 1, 12, 0, tzinfo=UTC), dt.datetime(2000, 2, 29, 23, 59, tzinfo=UTC), None]),
    ("clock", pa.time64("us"), "time without time zone",
     [dt.time(0, 0), dt.time(23, 59, 59, 999999), None]),
    ("nothing", pa.null(), "text", [None, None, None]),
]  # fmt: skip


def stage(tmp_path: Path, table: pa.Table) -> Path:
    path = tmp_path / "staged.parquet"
    pq.write_table(table, path)
    return path


def read_back(url: str, schema: str, table: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """Column types (format_type) and rows (ordered by the first column) of a table."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            types = dict(
                connection.execute(
                    sa.text(
                        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                        "WHERE attrelid = to_regclass(:name) AND attnum > 0 AND NOT attisdropped"
                    ),
                    {"name": f'"{schema}"."{table}"'},
                ).all()
            )
            rows = connection.execute(
                sa.text(f'SELECT * FROM "{schema}"."{table}" ORDER BY 1')
            ).mappings().all()
    finally:
        engine.dispose()
    return types, [dict(row) for row in rows]


def test_every_arrow_type_round_trips(postgres_schema: Any, tmp_path: Path) -> None:
    arrays = {"row": pa.array([1, 2, 3], pa.int64())}
    arrays |= {name: pa.array(values, kind) for name, kind, _, values in TYPES}
    staged = stage(tmp_path, pa.table(arrays))
    destination = PostgresDestination(make_url(postgres_schema.url))

    rows = destination.load(
        LoadRequest(postgres_schema.schema, "typed", staged, WriteDisposition.REPLACE)
    )

    types, loaded = read_back(postgres_schema.url, postgres_schema.schema, "typed")
    assert rows.rows_written == 3
    assert {name: types[name] for name, *_ in TYPES} == {name: pg for name, _, pg, _ in TYPES}
    assert types["_loaded_at"] == "timestamp with time zone"
    for name, _, _, values in TYPES:
        got = [row[name] for row in loaded]
        expected = [bytes(v) if isinstance(v, bytes) else v for v in values]
        assert [bytes(v) if isinstance(v, memoryview) else v for v in got] == expected, name
    assert len({row["_loaded_at"] for row in loaded}) == 1  # one transaction, one now()


def test_nan_and_infinity_survive(postgres_schema: Any, tmp_path: Path) -> None:
    staged = stage(tmp_path, pa.table({"id": [1, 2, 3], "x": [math.nan, math.inf, -math.inf]}))
    destination = PostgresDestination(make_url(postgres_schema.url))

    destination.load(LoadRequest(postgres_schema.schema, "floats", staged, WriteDisposition.REPLACE))

    _, loaded = read_back(postgres_schema.url, postgres_schema.schema, "floats")
    values = [row["x"] for row in loaded]
    assert math.isnan(values[0]) and values[1:] == [math.inf, -math.inf]


@pytest.mark.parametrize(
    "arrow_type",
    [pa.list_(pa.int64()), pa.struct([("a", pa.int64())]), pa.duration("s")],
    ids=str,
)
def test_types_without_a_column_type_are_refused_before_connecting(
    arrow_type: pa.DataType, tmp_path: Path
) -> None:
    assert postgres_type(arrow_type) is None
    staged = stage(tmp_path, pa.table({"id": [1], "odd": pa.nulls(1, arrow_type)}))
    unreachable = PostgresDestination(make_url("postgresql+psycopg://nobody@127.0.0.1:1/none"))

    with pytest.raises(SchemaConflictError, match=r"no column type for odd \("):
        unreachable.load(LoadRequest("raw", "t", staged, WriteDisposition.APPEND))


def test_rejected_row_rolls_back_and_reports_one_line(
    postgres_schema: Any, tmp_path: Path
) -> None:
    destination = PostgresDestination(make_url(postgres_schema.url))
    first = stage(tmp_path, pa.table({"id": [1, 2], "note": ["a", "b"]}))
    destination.load(LoadRequest(postgres_schema.schema, "notes", first, WriteDisposition.REPLACE))
    before = read_back(postgres_schema.url, postgres_schema.schema, "notes")
    bad = stage(tmp_path, pa.table({"id": [3, 4], "note": ["ok", "nul \x00 byte"]}))

    with pytest.raises(DestinationError) as raised:
        destination.load(LoadRequest(postgres_schema.schema, "notes", bad, WriteDisposition.REPLACE))

    message = str(raised.value)
    assert message.startswith("postgres destination postgresql+psycopg://postgres@")
    assert f"loading {postgres_schema.schema}.notes" in message
    assert "\n" not in message
    assert read_back(postgres_schema.url, postgres_schema.schema, "notes") == before
