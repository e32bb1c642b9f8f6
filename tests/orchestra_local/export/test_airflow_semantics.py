"""The small pipeline of test_dagster_semantics.py run by ``orchestra-local`` and as an Airflow DAG with
``dag.test()`` on Airflow 3: the same status, task run by task run (retries, a timeout treated as a
warning, false conditions, a matrix from an upstream task's outputs, a static matrix, a failing task
and its dependent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestra_local.export.codegen import write_airflow_dags
from tests.orchestra_local.export.test_dagster_semantics import EXPECTED, PIPELINE, TABLES_SCRIPT

pytestmark = [pytest.mark.slow]


def test_the_exported_dag_ends_every_task_run_as_orchestra_local_does(task_repo: Path, run_pipeline, airflow) -> None:
    (task_repo / "py" / "tables.py").write_text(TABLES_SCRIPT)
    local = run_pipeline(PIPELINE, inputs={"counter": str(task_repo / "local.count")})
    local_runs = {label: record for label, record in local.by_label().items() if not label.endswith("[*]")}
    assert {label: r["status"] for label, r in local_runs.items()} == EXPECTED

    (written,), _notes = write_airflow_dags(task_repo / "orchestra" / "p.yml", task_repo / "dags")
    result = airflow("test", written.parent, "p", json.dumps({"counter": str(task_repo / "airflow.count")}))
    views = result["orchestra"]["tasks"]
    assert {label: view["status"] for label, view in views.items()} == EXPECTED
    assert result["orchestra"]["run_status"] == local.status == "FAILED"
    assert result["state"] == "failed"
    print(json.dumps(result, indent=1)[:5000])
