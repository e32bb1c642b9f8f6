"""orchestra/dlt_sql_database.yml end to end: the real runner runs the real dlt script per table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from orchestra_local.store import RunStore

if TYPE_CHECKING:
    from tests.dlt.conftest import SourceDatabase

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.e2e]

REPO_ROOT = Path(__file__).resolve().parents[2]
PIPELINE = REPO_ROOT / "orchestra" / "dlt_sql_database.yml"
CLI = str(Path(sys.executable).with_name("orchestra-local"))
Query = Callable[[str], list[tuple[Any, ...]]]


def run_pipeline(
    tables: list[str], source: SourceDatabase, script_env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """``orchestra-local run`` on the real pipeline file, the source schema chosen through dlt's env config."""
    env = {
        **script_env,
        "SOURCES__SQL_DATABASE__CREDENTIALS": source.url,
        "SOURCES__SQL_DATABASE__SCHEMA": source.schema,
    }
    return subprocess.run(
        [CLI, "run", str(PIPELINE), "--input", f"tables={json.dumps(tables)}", "--no-progress",
         "--retry-delay-scale", "0"],  # the failing case retries once, at once
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )


def latest_run() -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """The last pipeline run in the test's metadata store, its task runs and its operations."""
    store = RunStore(f"sqlite:///{os.environ['ORCHESTRA_LOCAL_HOME']}/metadata.db")
    try:
        run = store.list_pipeline_runs(limit=1)[0]
        return run, store.list_task_runs(run["id"]), store.list_operations(pipeline_run_id=run["id"])
    finally:
        store.close()


def test_matrix_loads_every_table_and_a_rerun_changes_nothing(
    source_db: SourceDatabase, script_env: dict[str, str], warehouse: Query
) -> None:
    source_db.execute("CREATE TABLE {schema}.customers (customer_id integer PRIMARY KEY, name text)")
    source_db.execute("INSERT INTO {schema}.customers VALUES (1, 'Ada'), (2, 'Grace'), (3, 'Edsger')")

    result = run_pipeline(["orders", "customers"], source_db, script_env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert warehouse("SELECT count(*) FROM raw_dlt.orders") == [(source_db.orders_rows,)]
    assert warehouse("SELECT customer_id, name FROM raw_dlt.customers ORDER BY customer_id") == [
        (1, "Ada"), (2, "Grace"), (3, "Edsger")
    ]
    run, task_runs, operations = latest_run()
    assert run["run_status"] == "SUCCEEDED"
    assert sorted(t["status"] for t in task_runs if t["matrix_parent_id"]) == ["SUCCEEDED", "SUCCEEDED"]
    assert {op["operation_name"]: op["rows_affected"] for op in operations} == {
        "raw_dlt.orders": source_db.orders_rows, "raw_dlt.customers": 3
    }
    assert source_db.url not in json.dumps([task_runs, operations], default=str)
    contents = [warehouse(f"SELECT * FROM raw_dlt.{table} ORDER BY 1")
                for table in ("orders", "customers")]  # fmt: skip

    rerun = run_pipeline(["orders", "customers"], source_db, script_env)

    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert [warehouse(f"SELECT * FROM raw_dlt.{table} ORDER BY 1")
            for table in ("orders", "customers")] == contents  # fmt: skip
    assert latest_run()[0]["run_status"] == "SUCCEEDED"


def test_a_failing_table_fails_the_run_with_the_scripts_error_line(
    source_db: SourceDatabase, script_env: dict[str, str]
) -> None:
    result = run_pipeline(["no_such_table"], source_db, script_env)

    assert result.returncode == 1, result.stdout + result.stderr
    run, task_runs, _ = latest_run()
    assert run["run_status"] == "FAILED"
    failed = [t for t in task_runs if t["status"] == "FAILED" and t["matrix_parent_id"]]
    assert len(failed) == 1
    assert "Error: table 'no_such_table' not found in the source database" in failed[0]["message"]
