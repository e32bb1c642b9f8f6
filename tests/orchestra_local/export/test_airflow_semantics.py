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
    assert result["state"] == "failed"  # orchestra_run_result failed the DAG run
    tasks = result["tasks"]
    # retries: two attempts on both sides, Airflow's second try succeeded
    assert local_runs["flaky.flaky_task"]["number_of_attempts"] == views["flaky.flaky_task"]["attempts"] == 2
    assert tasks["flaky.flaky_task"] == {"state": "success", "try_number": 2}
    # the timeout (seconds) was enforced by the integration, then the failure became a warning
    assert "timed out after 1 seconds" in views["slow.times_out"]["message"]
    assert "timed out after 1 seconds" in local_runs["slow.times_out"]["message"]
    assert tasks["slow.times_out"]["state"] == "success"
    # the matrix came from list_tables' outputs at run time: two mapped task instances
    assert {k for k in tasks if k.startswith("per_table.use_table[")} == {"per_table.use_table[0]", "per_table.use_table[1]"}
    assert views["summarise.count_tables"]["outputs"]["table"] == "2_tables"
    local_outputs = local.store.get_outputs(local_runs["summarise.count_tables"]["id"])
    assert local_outputs["table"] == "2_tables"
    # Airflow's own states: skipped where Orchestra skipped, failed where it failed
    assert tasks["conditional.when_gated"]["state"] == tasks["broken.after_fails"]["state"] == "skipped"
    assert tasks["broken.fails"]["state"] == "failed" and tasks["orchestra_run_result"]["state"] == "failed"
