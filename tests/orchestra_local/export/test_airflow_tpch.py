"""The demo pipeline (orchestra/tpch_elt.yml) as an Airflow DAG run with ``dag.test()`` on Airflow 3: it
lands the warehouse ``orchestra-local run`` lands (tests/e2e/test_tpch_demo.py asserts these counts for it),
one Airflow task instance per Orchestra task run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestra_local.export.codegen import write_airflow_dags
from tests.e2e.test_tpch_demo import EXPECTED_ROWS, MARTS, SCALE_FACTOR, generate, warehouse_counts

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[3]
TASK_RUNS = {f"ingest.ingest_table[{table}]" for table in EXPECTED_ROWS} | {"transform.dbt_build"}


def test_dag_test_lands_the_demo_warehouse(airflow, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tpch_source.sqlite'}"
    assert generate({"TPCH_SOURCE_URL": url}, SCALE_FACTOR) == EXPECTED_ROWS
    (written,), _notes = write_airflow_dags(REPO_ROOT / "orchestra" / "tpch_elt.yml", tmp_path / "dags")
    result = airflow("test", written.parent, "tpch_elt", "{}", env={"TPCH_SOURCE_URL": url})
    assert result["state"] == "success"
    assert result["orchestra"]["run_status"] == "SUCCEEDED"
    assert {label: v["status"] for label, v in result["orchestra"]["tasks"].items()} == dict.fromkeys(TASK_RUNS,
                                                                                                   "SUCCEEDED")
    ingest = {k: v["state"] for k, v in result["tasks"].items() if k.startswith("ingest.ingest_table[")}
    assert ingest == {f"ingest.ingest_table[{i}]": "success" for i in range(len(EXPECTED_ROWS))}
    counts = warehouse_counts(Path(os.environ["WAREHOUSE_DUCKDB_PATH"]))
    print("airflow warehouse:", {k: counts[k] for k in sorted(counts)})
    assert {table: counts[f"raw.{table}"] for table in EXPECTED_ROWS} == EXPECTED_ROWS
    assert {mart: counts[f"analytics.{mart}"] for mart in MARTS} == MARTS
    assert counts["analytics.fct_local_supplier_revenue"] > 0
