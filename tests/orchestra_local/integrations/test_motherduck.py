"""MOTHERDUCK_EXECUTE_QUERY through the engine against a DuckDB file in tmp_path (never MotherDuck)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from orchestra_local.connections import Connection


def _pipeline(query: str, *, set_outputs: bool | None = None, retries: int = 0, timeout: int = 60) -> str:
    parameters: dict[str, object] = {"query": query}
    if set_outputs is not None:
        parameters["set_outputs"] = set_outputs
    task = {"integration": "MOTHERDUCK", "integration_job": "MOTHERDUCK_EXECUTE_QUERY", "connection": "lake",
            "configuration": {"retries": retries, "retry_delay": 1, "timeout": timeout}, "parameters": parameters}
    return json.dumps({"version": "v1", "name": "duck", "pipeline": {"sql": {"tasks": {"query": task}}}})


def _lake(path: str) -> dict[str, Connection]:
    return {"lake": Connection(name="lake", integration="MOTHERDUCK", fields={"path": path})}


@pytest.fixture
def lake_file(tmp_path: Path) -> Path:
    return tmp_path / "lake.duckdb"


def _read_in_another_process(path: Path, sql: str) -> str:
    """Open the file read-write from a separate process: it fails while any process holds the file."""
    script = f"import duckdb; print(duckdb.connect({str(path)!r}).sql({sql!r}).fetchall())"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_statements_commit_record_operations_and_release_the_file(run_pipeline, lake_file: Path) -> None:
    query = textwrap.dedent("""
        create table orders as select range as order_id, range * 1.5 as amount from range(4);
        insert into orders values (10, 2.5), (11, 0.5);
        update orders set amount = amount * 2 where order_id >= 10;
        select order_id, amount, date '2024-01-31' as day from orders where order_id >= 3 order by order_id;
    """)
    finished = run_pipeline(_pipeline(query, set_outputs=True), connections=_lake(str(lake_file)))
    run = finished.by_label()["sql.query"]
    assert run["status"] == "SUCCEEDED", run["message"]
    assert run["message"].startswith("4 statements: CREATE 4, INSERT 2, UPDATE 2, SELECT 3 (committed")
    operations = finished.store.list_operations(task_run_id=run["id"])
    assert [(op["operation_type"], op["external_status"], op["rows_affected"]) for op in operations] == [
        ("QUERY", "CREATE 4", 4), ("QUERY", "INSERT 2", 2), ("QUERY", "UPDATE 2", 2), ("QUERY", "SELECT 3", 3)]
    assert all(op["operation_duration"] is not None for op in operations)
    assert finished.store.get_outputs(run["id"]) == {"row_count": 3, "results": [
        {"order_id": 3, "amount": 4.5, "day": "2024-01-31"},
        {"order_id": 10, "amount": 5, "day": "2024-01-31"},
        {"order_id": 11, "amount": 1.0, "day": "2024-01-31"},
    ]}
    assert _read_in_another_process(lake_file, "select count(*) from orders") == "[(6,)]"


def test_a_relative_path_starts_at_the_repository_root(run_pipeline, task_repo: Path) -> None:
    finished = run_pipeline(_pipeline("create table t (a int); insert into t values (1)"),
                            connections=_lake("lake.duckdb"))
    assert finished.statuses() == {"sql.query": "SUCCEEDED"}
    with duckdb.connect(str(task_repo / "lake.duckdb")) as con:
        assert con.sql("select a from t").fetchall() == [(1,)]


def test_a_failing_statement_rolls_back_everything_and_is_not_retried(run_pipeline, lake_file: Path) -> None:
    query = "create table t (a int); insert into t values (1); insert into missing values (2)"
    finished = run_pipeline(_pipeline(query, retries=2), connections=_lake(str(lake_file)))
    run = finished.by_label()["sql.query"]
    assert run["status"] == "FAILED" and run["number_of_attempts"] == 1
    assert "DuckDB error: Catalog Error" in run["message"] and "missing" in run["message"]
    tables = _read_in_another_process(lake_file, "select count(*) from duckdb_tables() where table_name = 't'")
    assert tables == "[(0,)]"


def test_sql_that_does_not_parse_fails_before_opening_the_file(run_pipeline, lake_file: Path) -> None:
    finished = run_pipeline(_pipeline("selec 1"), connections=_lake(str(lake_file)))
    run = finished.by_label()["sql.query"]
    assert run["status"] == "FAILED" and "query cannot be parsed" in run["message"]
    assert not lake_file.exists()


def test_a_motherduck_path_is_refused(run_pipeline) -> None:
    finished = run_pipeline(_pipeline("select 1"), connections=_lake("md:analytics"))
    run = finished.by_label()["sql.query"]
    assert run["status"] == "FAILED" and "never contacts MotherDuck" in run["message"]


def test_a_query_over_the_timeout_is_interrupted(run_pipeline, lake_file: Path) -> None:
    query = "select count(*) from range(100000000000) t(n) where n % 7 = 3"
    finished = run_pipeline(_pipeline(query, timeout=1), connections=_lake(str(lake_file)))
    run = finished.by_label()["sql.query"]
    assert run["status"] == "FAILED" and run["message"].startswith("timed out after 1 seconds")


def test_a_file_locked_by_another_process_fails_retryably(run_pipeline, lake_file: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c",
         f"import duckdb, sys; c = duckdb.connect({str(lake_file)!r}); print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        finished = run_pipeline(_pipeline("select 1", retries=1), connections=_lake(str(lake_file)))
    finally:
        holder.communicate("", timeout=60)
    run = finished.by_label()["sql.query"]
    assert run["status"] == "FAILED" and "lock" in run["message"] and run["number_of_attempts"] == 2
