"""``--destination postgres`` end to end: ``python -m ingest`` as a subprocess from a TPC-H source
(SQLite and PostgreSQL) into a schema of the real PostgreSQL: replace, append, merge,
incremental, re-runs that change nothing, a killed worker, and one-line masked failures.
"""

from __future__ import annotations

import signal
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa

from tests.python.ingest.postgres_waits import wait_for_blocked_backend, wait_until_gone

if TYPE_CHECKING:
    from conftest import SourceDatabase

pytestmark = pytest.mark.postgres

ORDERS = 15_000
URL_VARIABLE = "WAREHOUSE_POSTGRES_URL"


@dataclass
class Warehouse:
    """A fresh schema of the test PostgreSQL database that the worker loads into."""

    url: str
    schema: str
    engine: sa.Engine

    def args(self) -> tuple[str, ...]:
        return ("--destination", "postgres", "--destination-schema", self.schema)

    def rows(self, table: str, columns: str = "*") -> list[tuple[Any, ...]]:
        """Every row of a warehouse table, sorted."""
        with self.engine.connect() as connection:
            query = f'SELECT {columns} FROM "{self.schema}"."{table}" ORDER BY 1, 2'
            return [tuple(row) for row in connection.execute(sa.text(query))]

    def execute(self, statement: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(sa.text(statement))


@pytest.fixture
def warehouse(postgres_url: str) -> Iterator[Warehouse]:
    engine = sa.create_engine(postgres_url, poolclass=sa.NullPool)
    schema = f"wh_{uuid.uuid4().hex[:10]}"
    try:
        yield Warehouse(postgres_url, schema, engine)
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def load(db: SourceDatabase, warehouse: Warehouse, *args: str, **env: str) -> dict[str, Any]:
    """Run the worker into the warehouse; assert it succeeded; return its summary."""
    run = db.ingest(*args, *warehouse.args(), **{URL_VARIABLE: warehouse.url, **env})
    assert run.returncode == 0, run.stderr
    assert run.error_lines == []
    summary: dict[str, Any] = run.summary
    return summary


def test_merge_rerun_changes_nothing_and_updates_merge(
    source_db: SourceDatabase, warehouse: Warehouse
) -> None:
    first = load(source_db, warehouse, "--table", "orders")
    assert first["destination_table"] == f"{warehouse.schema}.orders"
    assert (first["rows_read"], first["rows_written"]) == (ORDERS, ORDERS)
    before = warehouse.rows("orders")
    loaded_before = dict(warehouse.rows("orders", "o_orderkey, _loaded_at"))

    rerun = load(source_db, warehouse, "--table", "orders")
    assert (rerun["rows_read"], rerun["rows_written"]) == (ORDERS, 0)
    assert warehouse.rows("orders") == before  # values and _loaded_at untouched

    orders = source_db.table("orders")
    source_db.execute(
        f"UPDATE {orders} SET o_comment = 'changed' WHERE o_orderkey IN (1, 2, 3)",
        f"INSERT INTO {orders} SELECT 9999999, o_custkey, o_orderstatus, o_totalprice, "
        f"o_orderdate, o_orderpriority, o_clerk, o_shippriority, o_comment FROM {orders} "
        f"WHERE o_orderkey = 1",
    )
    changed = load(source_db, warehouse, "--table", "orders")

    assert (changed["rows_read"], changed["rows_written"]) == (ORDERS + 1, 4)
    after = warehouse.rows("orders", "o_orderkey, o_comment, _loaded_at")
    assert len(after) == len({row[0] for row in after}) == ORDERS + 1
    assert [comment for key, comment, _ in after if key in (1, 2, 3)] == ["changed"] * 3
    touched = {key for key, _, loaded_at in after if loaded_before.get(key) != loaded_at}
    assert touched == {1, 2, 3, 9999999}


def test_replace_keeps_dependent_views_and_follows_the_source(
    source_db: SourceDatabase, warehouse: Warehouse
) -> None:
    replace = ("--table", "customer", "--write-disposition", "replace")
    assert load(source_db, warehouse, *replace)["rows_written"] == 1500
    warehouse.execute(
        f'CREATE VIEW "{warehouse.schema}".big_customers AS '
        f'SELECT c_custkey FROM "{warehouse.schema}".customer WHERE c_custkey > 1000'
    )
    source_db.execute(f"DELETE FROM {source_db.table('customer')} WHERE c_custkey > 1000")

    summary = load(source_db, warehouse, *replace)

    assert (summary["rows_read"], summary["rows_written"]) == (1000, 1000)
    assert [row[0] for row in warehouse.rows("customer", "c_custkey, c_name")] == list(
        range(1, 1001)
    )
    assert warehouse.rows("big_customers", "c_custkey, 1") == []  # the view survived


def test_incremental_append_loads_each_row_once(
    source_db: SourceDatabase, warehouse: Warehouse
) -> None:
    orders = source_db.table("orders")
    cutoff = "1998-07-15"
    expected = source_db.scalar(f"SELECT count(*) FROM {orders} WHERE o_orderdate >= '{cutoff}'")
    incremental = (
        "--table", "orders", "--write-disposition", "append",
        "--incremental-cursor", "o_orderdate", "--initial-value", cutoff,
    )  # fmt: skip

    first = load(source_db, warehouse, *incremental)
    assert first["rows_written"] == expected
    assert load(source_db, warehouse, *incremental)["rows_written"] == 0
    source_db.execute(
        f"INSERT INTO {orders} SELECT 9999999, o_custkey, o_orderstatus, o_totalprice, "
        f"'{first['watermark']}', o_orderpriority, o_clerk, o_shippriority, o_comment "
        f"FROM {orders} WHERE o_orderkey = 1"
    )
    late = load(source_db, warehouse, *incremental)

    assert late["rows_written"] == 1  # arrived later with the watermark's own value
    keys = [row[0] for row in warehouse.rows("orders", "o_orderkey, o_orderdate")]
    assert len(keys) == len(set(keys)) == expected + 1
    state = warehouse.rows("_ingest_state", "destination_table, cursor_column, watermark")
    assert state == [("orders", "o_orderdate", first["watermark"])]


@pytest.mark.parametrize("source_db", [pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)  # fmt: skip
def test_incremental_merge_rerun_changes_nothing(
    source_db: SourceDatabase, warehouse: Warehouse
) -> None:
    incremental = ("--table", "orders", "--incremental-cursor", "o_orderdate",
                   "--initial-value", "1998-06-01", "--destination-url-env", "CRM_WAREHOUSE")  # fmt: skip
    first = load(source_db, warehouse, *incremental, CRM_WAREHOUSE=warehouse.url)
    before = warehouse.rows("orders")

    rerun = load(source_db, warehouse, *incremental, CRM_WAREHOUSE=warehouse.url)

    assert first["rows_written"] == len(before) > 0
    assert rerun["rows_written"] == 0
    assert rerun["watermark"] == first["watermark"] == "1998-08-02"
    assert warehouse.rows("orders") == before


def test_sigkill_before_commit_leaves_target_unchanged(
    sqlite_db: SourceDatabase,
    warehouse: Warehouse,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker is killed after its COPY, while its merge waits for a lock the test holds."""
    staging = tmp_path / "staging"
    staging.mkdir()
    assert load(sqlite_db, warehouse, "--table", "orders", TMPDIR=str(staging))["rows_written"]
    before = warehouse.rows("orders")
    sqlite_db.execute("UPDATE orders SET o_comment = 'changed'")
    monkeypatch.setenv(URL_VARIABLE, warehouse.url)
    monkeypatch.setenv("TMPDIR", str(staging))
    with warehouse.engine.connect() as holder:
        holder.execute(sa.text(f'LOCK TABLE "{warehouse.schema}".orders IN EXCLUSIVE MODE'))
        process = sqlite_db.start_ingest(
            "--table", "orders", *warehouse.args(),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            backend = wait_for_blocked_backend(warehouse.engine, warehouse.schema, timeout=60)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        holder.rollback()  # release the lock: the orphaned backend finds its client gone
    wait_until_gone(warehouse.engine, backend, timeout=30)

    assert process.returncode == -signal.SIGKILL
    assert warehouse.rows("orders") == before
    assert len(list(staging.glob(".ingest-staging-*"))) == 1  # removed by the next run
    rerun = load(sqlite_db, warehouse, "--table", "orders", TMPDIR=str(staging))
    assert rerun["rows_written"] == ORDERS
    assert list(staging.glob(".ingest-staging-*")) == []


def test_changed_column_type_is_refused_and_nothing_changes(
    sqlite_db: SourceDatabase, warehouse: Warehouse
) -> None:
    sqlite_db.execute(
        "CREATE TABLE things (id INTEGER PRIMARY KEY, v INTEGER)",
        "INSERT INTO things VALUES (1, 10), (2, 20)",
    )
    load(sqlite_db, warehouse, "--table", "things")
    before = warehouse.rows("things")
    sqlite_db.execute("DROP TABLE things", "CREATE TABLE things (id INTEGER PRIMARY KEY, v TEXT)",
                      "INSERT INTO things VALUES (1, 'ten'), (3, 'thirty')")  # fmt: skip

    run = sqlite_db.ingest("--table", "things", *warehouse.args(), **{URL_VARIABLE: warehouse.url})

    assert run.returncode == 1, run.stderr
    assert run.error_lines == [
        f"Error: column 'v' of {warehouse.schema}.things is bigint but the source now sends "
        "text; migrate the column or reload with --write-disposition replace"
    ]
    assert warehouse.rows("things") == before


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        pytest.param(
            "postgresql://loader:s3cret-pw@127.0.0.1:1/warehouse",
            "Error: postgres destination postgresql+psycopg://loader:***@127.0.0.1:1/warehouse: "
            "loading raw.region: ",
            id="unreachable",
        ),
        pytest.param(
            "mysql+pymysql://loader:s3cret-pw@127.0.0.1/warehouse",
            "Error: the postgres destination needs a postgresql:// or postgresql+psycopg:// URL, "
            "got mysql+pymysql://loader:***@127.0.0.1/warehouse",
            id="not-postgres",
        ),
    ],
)
def test_failure_exits_1_with_a_masked_line(
    sqlite_db: SourceDatabase, url: str, fragment: str
) -> None:
    run = sqlite_db.ingest("--table", "region", "--destination", "postgres", **{URL_VARIABLE: url})

    assert run.returncode == 1, run.stderr
    assert len(run.error_lines) == 1 and run.error_lines[0].startswith(fragment), run.stderr
    assert "s3cret-pw" not in run.stderr + run.stdout
    assert "Traceback" not in run.stderr
    assert run.stdout == ""


def test_append_inserts_the_rows_of_every_run(
    sqlite_db: SourceDatabase, warehouse: Warehouse
) -> None:
    for _ in range(2):
        summary = load(sqlite_db, warehouse, "--table", "region", "--write-disposition", "append")
        assert (summary["rows_read"], summary["rows_written"]) == (5, 5)

    keys = [row[0] for row in warehouse.rows("region", "r_regionkey, r_name")]
    assert keys == sorted([0, 1, 2, 3, 4] * 2)


def test_merge_keeps_the_last_row_of_a_repeated_key_and_refuses_null_keys(
    sqlite_db: SourceDatabase, warehouse: Warehouse
) -> None:
    sqlite_db.execute(
        "CREATE TABLE readings (sensor INTEGER, value TEXT)",
        "INSERT INTO readings VALUES (1, 'old'), (2, 'x'), (1, 'new')",
    )
    merge = ("--table", "readings", "--primary-key", "sensor", *warehouse.args())

    run = sqlite_db.ingest(*merge, **{URL_VARIABLE: warehouse.url})
    sqlite_db.execute("INSERT INTO readings VALUES (NULL, 'lost')")
    refused = sqlite_db.ingest(*merge, **{URL_VARIABLE: warehouse.url})

    assert run.returncode == 0, run.stderr
    assert (run.summary["rows_read"], run.summary["rows_written"]) == (3, 2)
    assert "1 source rows repeat a primary key (sensor)" in run.stderr
    assert refused.returncode == 1
    assert refused.error_lines == [
        "Error: 1 source rows have NULL in primary key (sensor); merge needs a non-null key"
    ]
    assert warehouse.rows("readings", "sensor, value") == [(1, "new"), (2, "x")]
