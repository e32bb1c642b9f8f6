"""Failures end to end: a crash mid-load leaves the warehouse exactly as it was, errors are one
clear line, and workers for different tables share one warehouse file.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pytest
import sqlalchemy as sa

if TYPE_CHECKING:
    from conftest import SourceDatabase

PAYMENTS = 5_000


def create_payments(db: SourceDatabase) -> None:
    """A ``payments`` table whose unbounded NUMERIC column becomes decimal128(38, 9) in Arrow."""
    engine = sa.create_engine(db.url, poolclass=sa.NullPool)
    table = sa.Table(
        "payments",
        sa.MetaData(schema=db.schema),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("amount", sa.Numeric),
    )
    rows = [{"id": i, "amount": 1.5} for i in range(1, PAYMENTS + 1)]
    try:
        with engine.begin() as connection:
            table.create(connection)
            connection.execute(table.insert(), rows)
    finally:
        engine.dispose()


def assert_single_error(run: Any, *fragments: str) -> None:
    """Exit 1, one ``Error:`` line containing every fragment, no traceback, no summary."""
    assert run.returncode == 1, run.stderr
    assert len(run.error_lines) == 1, run.stderr
    for fragment in fragments:
        assert fragment in run.error_lines[0]
    assert "Traceback" not in run.stderr
    assert run.stdout == ""


@pytest.mark.parametrize(("reader", "located"), [
    ("sqlalchemy", ["rows 4,501-5,000"]),  # batches of --batch-size rows
    ("adbc", ["rows "]),  # the driver's own batches
    ("duckdb-scanner", ["Could not cast value"]),  # DuckDB names the column and value, not the row
])  # fmt: skip
def test_value_that_fails_conversion_midway_leaves_target_unchanged(
    source_db: SourceDatabase, reader: str, located: list[str]
) -> None:
    create_payments(source_db)
    assert source_db.ingest("--table", "payments").returncode == 0
    before = source_db.rows("raw.payments")
    payments = source_db.table("payments")
    source_db.execute(
        f"UPDATE {payments} SET amount = 7 WHERE id < 100",
        f"UPDATE {payments} SET amount = 1e40 WHERE id = {PAYMENTS}",  # no decimal128(38, 9) fits
    )

    run = source_db.ingest("--table", "payments", "--batch-size", "500", "--reader", reader)

    if reader == "duckdb-scanner" and source_db.kind == "postgres":
        # An unbounded NUMERIC would reach DuckDB as a DOUBLE: the scanner refuses it up front.
        assert run.returncode == 2
        assert run.error_lines == ["Error: --reader duckdb-scanner cannot read this: columns amount (NUMERIC) "
                                   "do not read exactly through DuckDB; use --reader auto"]
    else:
        assert_single_error(run, "column 'amount'", *located)
    assert source_db.rows("raw.payments") == before
    assert source_db.staging_leftovers() == []


def test_sigkill_mid_load_leaves_target_unchanged(source_db: SourceDatabase) -> None:
    assert source_db.ingest("--table", "lineitem").returncode == 0
    before = source_db.rows("raw.lineitem")
    source_db.execute(f"UPDATE {source_db.table('lineitem')} SET l_comment = 'changed'")
    process = source_db.start_ingest(
        "--table", "lineitem", "--batch-size", "100", "--reader", "sqlalchemy",  # the reader that stages Parquet
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        staged = wait_for_staged_bytes(source_db.warehouse.parent, timeout=60)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert staged > 0
    assert process.returncode == -signal.SIGKILL

    assert source_db.rows("raw.lineitem") == before
    leftovers = source_db.staging_leftovers()
    assert len(leftovers) == 1  # harmless: nothing reads it, and the next run removes it
    rerun = source_db.ingest("--table", "lineitem")
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.summary["rows_written"] == len(before)
    assert source_db.staging_leftovers() == []


def test_sigterm_mid_load_cleans_up_and_exits_130(
    sqlite_db: SourceDatabase, tmp_path: Path
) -> None:
    """Orchestra stops tasks with SIGTERM: the worker rolls back, removes its staging, exits."""
    assert sqlite_db.ingest("--table", "lineitem").returncode == 0
    before = sqlite_db.rows("raw.lineitem")
    sqlite_db.execute("UPDATE lineitem SET l_comment = 'changed'")
    log = tmp_path / "stderr.log"
    with log.open("w") as stderr:
        process = sqlite_db.start_ingest(
            "--table", "lineitem", "--batch-size", "100", "--reader", "sqlalchemy", stdout=subprocess.PIPE,
            stderr=stderr,
        )  # fmt: skip
        try:
            wait_for_staged_bytes(sqlite_db.warehouse.parent, timeout=60)
        finally:
            process.send_signal(signal.SIGTERM)
            stdout, _ = process.communicate(timeout=30)

    assert process.returncode == 130, log.read_text()
    assert stdout == ""
    assert log.read_text().strip().splitlines()[-1] == "Error: interrupted"
    assert sqlite_db.staging_leftovers() == []
    assert sqlite_db.rows("raw.lineitem") == before


def test_sigterm_during_a_scan_into_the_warehouse_interrupts_it(sqlite_db: SourceDatabase) -> None:
    """The duckdb-scanner reader reads inside the load transaction: SIGTERM interrupts DuckDB's scan
    (3 million rows: seconds of scanning, against milliseconds for the signal)."""
    sqlite_db.execute("CREATE TABLE big (id INTEGER PRIMARY KEY, v TEXT)",
                      "INSERT INTO big WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                      "WHERE i < 3000000) SELECT i, hex(randomblob(16)) FROM n")
    process = sqlite_db.start_ingest("--table", "big", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stderr is not None
    lines = []
    try:
        for line in process.stderr:
            lines.append(line)
            if "straight into the load transaction" in line:
                break
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, rest = process.communicate(timeout=30)

    assert process.returncode == 130, "".join(lines) + rest
    assert stdout == ""
    assert rest.strip().splitlines()[-1] == "Error: interrupted"
    assert "raw.big" not in sqlite_db.table_names()


def test_missing_sqlite_source_file_is_not_created(run_worker: Any, tmp_path: Path) -> None:
    source = tmp_path / "nowhere" / "source.sqlite"
    env = {
        "SOURCE_DATABASE_URL": f"sqlite:///{source}",
        "WAREHOUSE_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"),
    }

    run = run_worker("ingest", "--source", "sql", "--table", "orders", env=env)

    assert_single_error(run, f"SQLite file {source} does not exist")
    assert not source.parent.exists()


def wait_for_staged_bytes(parent: Path, timeout: float) -> int:
    """Wait until a worker's staging file under ``parent`` holds data; return its size."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for staged in parent.glob(".ingest-staging-*/*.parquet"):
            try:
                size = staged.stat().st_size
            except FileNotFoundError:  # the worker finished and removed it
                continue
            if size > 64 * 1024:
                return size
        time.sleep(0.01)
    raise AssertionError("the worker never wrote its staging file")


def test_unknown_table_lists_the_tables(source_db: SourceDatabase) -> None:
    run = source_db.ingest("--table", "ordrs")

    assert_single_error(
        run, "table 'ordrs' not found in", "tables: customer, lineitem, nation, orders, part"
    )
    assert source_db.table_names() == []


@pytest.mark.parametrize(
    ("args", "variable"),
    [
        pytest.param([], "SOURCE_DATABASE_URL", id="default-variable"),
        pytest.param(["--source-url-env", "CRM_DB_URL"], "CRM_DB_URL", id="named-variable"),
    ],
)
def test_missing_url_variable_names_it(
    run_worker: Any, tmp_path: Path, args: list[str], variable: str
) -> None:
    env = {"WAREHOUSE_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb")}

    run = run_worker("ingest", "--source", "sql", "--table", "orders", *args, env=env)

    assert_single_error(run, f"environment variable {variable} is not set")


def test_connection_error_does_not_leak_the_password(run_worker: Any, tmp_path: Path) -> None:
    env = {
        "SOURCE_DATABASE_URL": "postgresql://reader:s3cret-pw@127.0.0.1:1/crm",
        "WAREHOUSE_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"),
    }

    run = run_worker("ingest", "--source", "sql", "--table", "orders", env=env)

    assert_single_error(run, "reader:***@127.0.0.1:1/crm")
    assert "s3cret-pw" not in run.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        pytest.param(["--write-disposition", "upsert"], "invalid WriteDisposition", id="enum"),
        pytest.param(["--batch-size", "0"], "must be a positive integer", id="batch-size"),
        pytest.param(["--initial-value", "1998-01-01"], "needs --incremental-cursor", id="init"),
        pytest.param(
            ["--write-disposition", "replace", "--incremental-cursor", "o_orderdate"],
            "cannot be combined with --write-disposition replace",
            id="replace-incremental",
        ),
        pytest.param(
            ["--write-disposition", "append", "--primary-key", "o_orderkey"],
            "--primary-key applies to --write-disposition merge only",
            id="key-without-merge",
        ),
    ],
)
def test_invalid_arguments_exit_2(
    sqlite_db: SourceDatabase, args: list[str], fragment: str
) -> None:
    run = sqlite_db.ingest("--table", "orders", *args)

    assert run.returncode == 2, run.stderr
    assert fragment in run.stderr
    assert "Traceback" not in run.stderr
    assert not sqlite_db.warehouse.exists()


def test_workers_for_different_tables_share_the_warehouse(
    sqlite_db: SourceDatabase, tmp_path: Path
) -> None:
    """Two workers reach the apply phase while a third process holds the warehouse; both wait
    for the lock, then both land their data."""
    sqlite_db.warehouse.parent.mkdir(parents=True)
    holder = duckdb.connect(str(sqlite_db.warehouse))
    logs = {table: tmp_path / f"{table}.log" for table in ("orders", "lineitem")}
    processes = {}
    try:
        for table, log in logs.items():
            with log.open("w") as stderr:
                processes[table] = sqlite_db.start_ingest(
                    "--table", table, stdout=subprocess.PIPE, stderr=stderr
                )
        deadline = time.monotonic() + 60
        while not all("is locked by another process" in log.read_text() for log in logs.values()):
            assert time.monotonic() < deadline, {t: log.read_text() for t, log in logs.items()}
            time.sleep(0.05)
    finally:
        holder.close()
    outputs = {table: process.communicate(timeout=60)[0] for table, process in processes.items()}

    for table, process in processes.items():
        assert process.returncode == 0, logs[table].read_text()
        assert '"destination_table": "raw.' + table in outputs[table].splitlines()[-1]
    assert len(sqlite_db.rows("raw.orders")) == 15_000
    assert len(sqlite_db.rows("raw.lineitem")) == 60_175


def test_lock_held_past_the_timeout_fails_cleanly(sqlite_db: SourceDatabase) -> None:
    sqlite_db.warehouse.parent.mkdir(parents=True)
    with duckdb.connect(str(sqlite_db.warehouse)) as holder:
        holder.execute("CREATE TABLE marker AS SELECT 1 AS x")
        run = sqlite_db.ingest("--table", "orders", "--lock-timeout", "1")

    assert_single_error(run, "stayed locked by another process for 1s")
    assert sqlite_db.table_names() == ["main.marker"]
    assert sqlite_db.staging_leftovers() == []
