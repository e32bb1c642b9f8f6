"""dlt/sql_database_pipeline.py: PostgreSQL -> DuckDB, run as Orchestra runs it (cwd=dlt/)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.dlt.conftest import RunScript, ScriptResult, SourceDatabase

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SCRIPT = "sql_database_pipeline.py"
ORDER_COLUMNS = "order_id, customer, amount, updated_at"
Query = Callable[[str], list[tuple[Any, ...]]]


def load_orders(run_script: RunScript, source: SourceDatabase, *extra: str) -> ScriptResult:
    """Run the script on the test's ``orders`` table with an incremental cursor on updated_at."""
    result = run_script(
        SCRIPT, "--table", "orders", "--schema", source.schema,
        "--incremental-cursor", "updated_at", "--initial-value", "2024-01-01T00:00:00Z", *extra,
        env={"SOURCES__SQL_DATABASE__CREDENTIALS": source.url},
    )
    assert result.returncode == 0, result.stderr
    return result


def warehouse_orders(warehouse: Query) -> list[tuple[Any, ...]]:
    return warehouse(f"SELECT {ORDER_COLUMNS} FROM raw_dlt.orders ORDER BY order_id")


def test_initial_load_lands_every_row_and_a_rerun_changes_nothing(
    run_script: RunScript, source_db: SourceDatabase, warehouse: Query
) -> None:
    first = load_orders(run_script, source_db)
    summary = first.summary
    assert summary["table"] == "orders" and summary["destination_table"] == "raw_dlt.orders"
    assert summary["rows_written"] == source_db.orders_rows and summary["write_disposition"] == "merge"
    assert summary["load_id"] and summary["seconds"] > 0
    assert warehouse("SELECT count(*) FROM raw_dlt.orders") == [(source_db.orders_rows,)]
    assert warehouse_orders(warehouse) == source_db.rows("orders", ORDER_COLUMNS)
    loads_before = warehouse("SELECT load_id, status FROM raw_dlt._dlt_loads ORDER BY load_id")
    contents_before = warehouse("SELECT * FROM raw_dlt.orders ORDER BY order_id")

    second = load_orders(run_script, source_db)

    assert second.summary["rows_written"] == 0 and second.summary["load_id"] is None
    assert warehouse("SELECT * FROM raw_dlt.orders ORDER BY order_id") == contents_before
    assert warehouse("SELECT load_id, status FROM raw_dlt._dlt_loads ORDER BY load_id") == loads_before


def test_incremental_merge_keeps_one_row_per_key_with_the_latest_values(
    run_script: RunScript, source_db: SourceDatabase, warehouse: Query
) -> None:
    load_orders(run_script, source_db)
    total = source_db.orders_rows + 5
    source_db.execute(
        "UPDATE {schema}.orders SET amount = amount + 1000, updated_at = timestamptz '2025-06-01 12:00:00+00' "
        "WHERE order_id <= 10"
    )
    source_db.execute(
        "INSERT INTO {schema}.orders SELECT g, 'late_customer', 7.5, timestamptz '2025-06-02 00:00:00+00' "
        "FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS g",
        first=source_db.orders_rows + 1, last=total,
    )

    result = load_orders(run_script, source_db)

    # only the changed and new rows are read: the cursor starts at the last loaded updated_at
    assert result.summary["rows_written"] == 15
    assert warehouse("SELECT count(*), count(DISTINCT order_id) FROM raw_dlt.orders") == [(total, total)]
    assert warehouse_orders(warehouse) == source_db.rows("orders", ORDER_COLUMNS)
    assert warehouse("SELECT amount FROM raw_dlt.orders WHERE order_id = 3") == [(Decimal("1003.75"),)]


def test_replace_reloads_the_table_and_append_adds_rows(
    run_script: RunScript, source_db: SourceDatabase, warehouse: Query
) -> None:
    env = {"SOURCES__SQL_DATABASE__CREDENTIALS": source_db.url, "SOURCES__SQL_DATABASE__SCHEMA": source_db.schema}
    for _ in range(2):
        replaced = run_script(SCRIPT, "--table", "events", "--write-disposition", "replace", env=env)
        assert replaced.returncode == 0, replaced.stderr
    assert warehouse("SELECT event_id, kind FROM raw_dlt.events ORDER BY event_id") == [(1, "click"), (2, "view")]
    appended = run_script(SCRIPT, "--table", "events", "--write-disposition", "append", env=env)
    assert appended.returncode == 0, appended.stderr
    assert appended.summary["rows_written"] == 2
    assert warehouse("SELECT count(*) FROM raw_dlt.events") == [(4,)]


def test_unknown_table_fails_with_one_clear_line(run_script: RunScript, source_db: SourceDatabase) -> None:
    result = run_script(SCRIPT, "--table", "no_such_table", "--schema", source_db.schema,
                        env={"SOURCES__SQL_DATABASE__CREDENTIALS": source_db.url})
    result.assert_failed(1, "table 'no_such_table' not found in the source database")


def test_bad_credentials_fail_without_leaking_the_password(run_script: RunScript) -> None:
    password = "pw-Secret-4711"
    url = f"postgresql+psycopg://postgres:{password}@127.0.0.1:5432/no_such_database_dlt"
    result = run_script(SCRIPT, "--table", "orders", env={"SOURCES__SQL_DATABASE__CREDENTIALS": url})
    line = result.assert_failed(1, 'database "no_such_database_dlt" does not exist')
    assert password not in result.stdout + result.stderr, line


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        pytest.param(["--table", "events"], "table 'events' has no primary key to merge on", id="merge-without-key"),
        pytest.param(["--table", "orders", "--initial-value", "5"], "--initial-value needs --incremental-cursor",
                     id="initial-value-without-cursor"),
        pytest.param(["--table", "orders", "--incremental-cursor", "updated", "--write-disposition", "append"],
                     "'updated' is not a column of 'orders'; columns: order_id, customer, amount, updated_at",
                     id="unknown-cursor"),
        pytest.param(["--table", "orders", "--incremental-cursor", "order_id", "--initial-value", "ten"],
                     "--initial-value 'ten' is not a valid bigint for column 'order_id'", id="bad-initial-value"),
        pytest.param(["--table", "orders", "--incremental-cursor", "order_id", "--write-disposition", "replace"],
                     "--incremental-cursor needs --write-disposition merge or append", id="incremental-replace"),
        pytest.param(["--table", "orders", "--credentials-env", "DLT_TEST_UNSET_URL"],
                     "environment variable DLT_TEST_UNSET_URL (named by --credentials-env) is not set",
                     id="credentials-env-unset"),
    ],
)
def test_invalid_arguments_exit_2_before_loading(
    run_script: RunScript, source_db: SourceDatabase, warehouse: Query, args: list[str], fragment: str
) -> None:
    env = {"SOURCES__SQL_DATABASE__CREDENTIALS": source_db.url, "SOURCES__SQL_DATABASE__SCHEMA": source_db.schema}
    run_script(SCRIPT, *args, env=env).assert_failed(2, fragment)


def test_missing_credentials_name_the_variable_to_set(run_script: RunScript, fresh_clone: Path) -> None:
    result = run_script(SCRIPT, "--table", "orders", project=fresh_clone)
    result.assert_failed(2, "missing configuration: credentials (set SOURCES__SQL_DATABASE__ORDERS__CREDENTIALS "
                                     "or SOURCES__SQL_DATABASE__CREDENTIALS")


def test_append_with_an_integer_cursor_adds_only_new_rows(
    run_script: RunScript, source_db: SourceDatabase, warehouse: Query
) -> None:
    env = {"SOURCES__SQL_DATABASE__CREDENTIALS": source_db.url, "SOURCES__SQL_DATABASE__SCHEMA": source_db.schema}
    args = ("--table", "events", "--write-disposition", "append", "--incremental-cursor", "event_id",
            "--initial-value", "2")
    first = run_script(SCRIPT, *args, env=env)
    assert first.returncode == 0, first.stderr
    assert first.summary["rows_written"] == 1  # event 1 is below the initial value
    source_db.execute("INSERT INTO {schema}.events VALUES (3, 'purchase'), (4, 'click')")

    second = run_script(SCRIPT, *args, env=env)

    assert second.summary["rows_written"] == 2
    assert warehouse("SELECT event_id, kind FROM raw_dlt.events ORDER BY event_id") == [
        (2, "view"), (3, "purchase"), (4, "click")
    ]
