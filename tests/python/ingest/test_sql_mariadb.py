"""MariaDB (MySQL protocol, PyMySQL) as a source: every column type, a database as ``--schema``,
and MariaDB -> DuckDB with replace, append, merge and incremental loads."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import pytest
from ingest.sources.sql import SqlSource
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from conftest import MariaDBDatabase

pytestmark = pytest.mark.mariadb

TYPED = """CREATE TABLE typed (
    id BIGINT UNSIGNED PRIMARY KEY, tiny TINYINT, small_u SMALLINT UNSIGNED, medium_u INT UNSIGNED,
    big BIGINT, amount DECIMAL(10, 3), huge DECIMAL(65, 30), ratio FLOAT, precise DOUBLE,
    flag BOOLEAN, day DATE, wall DATETIME(6), instant TIMESTAMP(6) NULL, clock TIME(6),
    yr YEAR, uid UUID, doc JSON, blob_col BLOB, bytes_col VARBINARY(8), grade ENUM('a', 'b'),
    label VARCHAR(20)
)"""
# Written in a session at UTC+02:00, so `instant` (a TIMESTAMP) is stored as 12:00 UTC.
FULL_ROW = (
    "INSERT INTO typed VALUES (18446744073709551615, -128, 65535, 4294967295, "
    "-9223372036854775808, -1234.567, 0.000000000000000000000000000001, 0.5, 0.1, TRUE, "
    "'2024-05-31', '2024-05-01 12:30:15.250000', '2024-05-01 14:00:00', '07:45:30.500000', 2024, "
    "'6ccd780c-baba-1026-9564-5b8c656024db', '{\"a\": [1, 2]}', x'00ff', x'0102', 'b', 'Ünïcode ✓')"
)
EMPTY_ROW = "INSERT INTO typed (id) VALUES (1)"
EXPECTED = {
    "id": (pa.decimal128(20, 0), Decimal(18446744073709551615)),
    "tiny": (pa.int64(), -128),
    "small_u": (pa.int64(), 65535),
    "medium_u": (pa.int64(), 4294967295),
    "big": (pa.int64(), -(2**63)),
    "amount": (pa.decimal128(10, 3), Decimal("-1234.567")),
    "huge": (pa.string(), "0.000000000000000000000000000001"),  # beyond 38 digits: text
    "ratio": (pa.float64(), 0.5),
    "precise": (pa.float64(), 0.1),
    "flag": (pa.int64(), 1),  # MariaDB's BOOLEAN is TINYINT(1)
    "day": (pa.date32(), dt.date(2024, 5, 31)),
    "wall": (pa.timestamp("us"), dt.datetime(2024, 5, 1, 12, 30, 15, 250000)),
    "instant": (pa.timestamp("us", tz="UTC"), dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)),
    "clock": (pa.time64("us"), dt.time(7, 45, 30, 500000)),
    "yr": (pa.int64(), 2024),
    "uid": (pa.string(), "6ccd780c-baba-1026-9564-5b8c656024db"),
    "doc": (pa.string(), '{"a": [1, 2]}'),
    "blob_col": (pa.binary(), b"\x00\xff"),
    "bytes_col": (pa.binary(), b"\x01\x02"),
    "grade": (pa.string(), "b"),
    "label": (pa.string(), "Ünïcode ✓"),
}


def execute(database: MariaDBDatabase, *statements: str) -> None:
    engine = database.engine()
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


def test_every_mariadb_type_arrives_with_its_value(
    mariadb_database: MariaDBDatabase, mariadb_url: str
) -> None:
    execute(mariadb_database, TYPED, "SET time_zone = '+02:00'", FULL_ROW, EMPTY_ROW)
    # Connected to the server's default database; --schema names the one holding the table.
    # The session starts at UTC+05:00, as a server's default zone might: TIMESTAMPs still
    # arrive in UTC.
    url = make_url(mariadb_url).update_query_dict({"init_command": "SET time_zone = '+05:00'"})
    source = SqlSource(url, mariadb_database.name)
    try:
        assert source.list_tables() == ["typed"]
        described = source.describe("typed")
        loaded = pa.Table.from_batches(list(source.read(described, 1, None)), described.schema)
    finally:
        source.close()

    assert {f.name: f.type for f in described.schema} == {k: t for k, (t, _) in EXPECTED.items()}
    assert (described.primary_key, described.primary_key_enforced) == (("id",), True)
    empty, full = sorted(loaded.to_pylist(), key=lambda row: row["id"])
    assert full == {name: value for name, (_, value) in EXPECTED.items()}
    assert empty == {name: None for name in EXPECTED} | {"id": Decimal(1)}


EVENTS = """CREATE TABLE events (
    id INT PRIMARY KEY, updated_at DATETIME NOT NULL, amount DECIMAL(12, 2), note VARCHAR(40)
)"""


def insert_events(database: MariaDBDatabase, ids: range, day: str) -> None:
    values = ", ".join(
        f"({i}, '{day} 00:{i // 60:02d}:{i % 60:02d}', {i}.25, 'event {i}')" for i in ids
    )
    execute(database, f"INSERT INTO events VALUES {values}")


class Loader:
    """Runs ``python -m ingest`` from a MariaDB database into a private DuckDB warehouse."""

    def __init__(self, database: MariaDBDatabase, warehouse: Path, run_worker: Any) -> None:
        self.env = {"SOURCE_DATABASE_URL": database.url, "WAREHOUSE_DUCKDB_PATH": str(warehouse)}
        self.warehouse = warehouse
        self.run_worker = run_worker

    def __call__(self, *args: str) -> dict[str, Any]:
        run = self.run_worker("ingest", "--source", "sql", "--table", "events", *args, env=self.env)
        assert run.returncode == 0, run.stderr
        summary: dict[str, Any] = run.summary
        return summary

    def rows(self, table: str = "raw.events") -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.warehouse), read_only=True) as connection:
            return connection.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()


@pytest.fixture
def events(mariadb_database: MariaDBDatabase, tmp_path: Path, run_worker: Any) -> Loader:
    execute(mariadb_database, EVENTS)
    insert_events(mariadb_database, range(1, 301), "2024-01-01")
    insert_events(mariadb_database, range(301, 501), "2024-01-02")
    return Loader(mariadb_database, tmp_path / "warehouse.duckdb", run_worker)


def test_merge_replace_and_append_from_mariadb(
    events: Loader, mariadb_database: MariaDBDatabase
) -> None:
    assert events()["rows_written"] == 500
    before = events.rows()
    assert events()["rows_written"] == 0
    assert events.rows() == before
    execute(
        mariadb_database,
        "UPDATE events SET note = 'changed' WHERE id IN (1, 2)",
        "INSERT INTO events VALUES (501, '2024-01-03', 1.00, 'new')",
    )
    assert events()["rows_written"] == 3
    assert [row[3] for row in events.rows()[:2]] == ["changed", "changed"]
    assert len(events.rows()) == 501

    execute(mariadb_database, "DELETE FROM events WHERE id > 100")
    assert events("--write-disposition", "replace")["rows_written"] == 100
    assert [row[0] for row in events.rows()] == list(range(1, 101))

    appended = events("--write-disposition", "append", "--destination-table", "log")
    again = events("--write-disposition", "append", "--destination-table", "log")
    assert appended["rows_written"] == again["rows_written"] == 100
    assert len(events.rows("raw.log")) == 200


def test_incremental_rerun_changes_nothing(
    events: Loader, mariadb_database: MariaDBDatabase
) -> None:
    incremental = ("--incremental-cursor", "updated_at", "--initial-value", "2024-01-02")

    first = events(*incremental)
    rerun = events(*incremental)
    before = events.rows()
    insert_events(mariadb_database, range(501, 511), "2024-01-03")
    later = events(*incremental)

    assert (first["rows_read"], first["rows_written"]) == (200, 200)
    assert first["watermark"] == "2024-01-02T00:08:20"
    assert (rerun["rows_read"], rerun["rows_written"]) == (1, 0)  # the row at the watermark
    assert before == events.rows()[:200]
    assert (later["rows_read"], later["rows_written"]) == (11, 10)
    assert later["watermark"] == "2024-01-03T00:08:30"
