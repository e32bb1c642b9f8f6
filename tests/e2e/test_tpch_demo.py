"""The main job end to end: generate TPC-H, run orchestra/tpch_elt.yml twice through the real CLI, then
once more on a larger source (rows the larger source lacks are marked deleted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from orchestra_local.store import RunStore

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
SCALE_FACTOR = "0.01"  # dbgen repeats partsupp keys below 0.01
EXPECTED_ROWS = {"region": 5, "nation": 25, "supplier": 100, "customer": 1500, "part": 2000, "partsupp": 8000,
                 "orders": 15000, "lineitem": 60175}
MARTS = {"fct_orders": 15000, "dim_customers": 1500, "fct_pricing_summary": 4}


def warehouse_counts(path: Path) -> dict[str, int]:
    with duckdb.connect(str(path), read_only=True) as connection:
        names = connection.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema in ('raw', 'analytics') and table_type = 'BASE TABLE'"
        ).fetchall()
        return {name: connection.execute(f"select count(*) from {name}").fetchone()[0] for (name,) in names}


def generate(env: dict[str, str], scale_factor: str) -> dict[str, int]:
    """Fill the TPC-H source at ``scale_factor``; its row counts."""
    generated = subprocess.run([sys.executable, "-m", "tpch_source", "--scale-factor", scale_factor],
                               cwd=REPO_ROOT / "python", env={**os.environ, **env}, capture_output=True, text=True,
                               timeout=300)
    assert generated.returncode == 0, generated.stderr
    return json.loads(generated.stdout.strip().splitlines()[-1])["row_counts"]  # type: ignore[no-any-return]


def test_demo_pipeline_end_to_end_twice_then_at_a_larger_scale_factor(cli, tmp_path: Path) -> None:
    env = {"TPCH_SOURCE_URL": f"sqlite:///{tmp_path / 'tpch_source.sqlite'}"}
    assert generate(env, SCALE_FACTOR) == EXPECTED_ROWS

    warehouse = Path(os.environ["WAREHOUSE_DUCKDB_PATH"])
    counts = []
    for _ in range(2):
        result = cli("run", str(REPO_ROOT / "orchestra" / "tpch_elt.yml"), env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Traceback" not in result.stdout + result.stderr
        counts.append(warehouse_counts(warehouse))
    assert counts[0] == counts[1]
    for table, rows in EXPECTED_ROWS.items():
        assert counts[0][f"raw.{table}"] == rows
    for mart, rows in MARTS.items():
        assert counts[0][f"analytics.{mart}"] == rows
    assert counts[0]["analytics.fct_local_supplier_revenue"] > 0

    store = RunStore(f"sqlite:///{Path(os.environ['ORCHESTRA_LOCAL_HOME']) / 'metadata.db'}")
    runs = store.list_pipeline_runs()
    assert [run["run_status"] for run in runs] == ["SUCCEEDED", "SUCCEEDED"]
    for run in runs:
        task_runs = store.list_task_runs(run["id"])
        parents = [t for t in task_runs if t["matrix_parent"]]
        children = [t for t in task_runs if t["matrix_parent_id"]]
        assert len(parents) == 1 and parents[0]["task_id"] == "ingest_table"
        assert sorted(c["run_parameters"]["matrix"]["table"] for c in children) == sorted(EXPECTED_ROWS)
        assert {c["matrix_parent_id"] for c in children} == {parents[0]["id"]}
        (dbt_task,) = [t for t in task_runs if t["task_id"] == "dbt_build"]
        assert dbt_task["status"] == "SUCCEEDED"
        operations = store.list_operations(task_run_id=dbt_task["id"])
        run_results = json.loads(Path(next(f["path"] for f in store.list_files(dbt_task["id"], "artifact")
                                        if f["filename"] == "run_results.json")).read_text())
        assert len(operations) == len(run_results["results"]) > 100
        assert {op["operation_status"] for op in operations} == {"SUCCEEDED"}
        assert all(op["operation_duration"] is not None for op in operations)
        types = {op["operation_type"] for op in operations}
        assert {"MATERIALISATION", "TEST"} <= types
        ingestion = [op for op in store.list_operations(pipeline_run_id=run["id"]) if op["operation_type"] == "INGESTION"]
        assert sorted(op["operation_name"] for op in ingestion) == sorted(f"raw.{t}" for t in EXPECTED_ROWS)
    second_run_rows = [op["rows_affected"] for op in store.list_operations(pipeline_run_id=runs[0]["id"])
                       if op["operation_type"] == "INGESTION"]
    assert second_run_rows == [0] * 8  # merge of unchanged rows writes nothing


    # `make demo` then `make demo SF=...`: keys the larger source lacks are marked deleted, not kept live
    larger = generate(env, "0.02")
    result = cli("run", str(REPO_ROOT / "orchestra" / "tpch_elt.yml"), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        live = {table: connection.execute(f"select count(*) from raw.{table} where _deleted_at is null").fetchone()[0]
                for table in EXPECTED_ROWS}
        marked = connection.execute("select count(*) from raw.partsupp where _deleted_at is not null").fetchone()[0]
        marts = {mart: connection.execute(f"select count(*) from analytics.{mart}").fetchone()[0]
                 for mart in ("fct_orders", "dim_customers")}
    assert live == {table: larger[table] for table in EXPECTED_ROWS}
    assert marked > 0  # SF 0.01 partsupp keys that SF 0.02 does not have
    assert marts == {"fct_orders": larger["orders"], "dim_customers": larger["customer"]}
