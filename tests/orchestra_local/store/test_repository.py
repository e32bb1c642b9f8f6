"""The run store on SQLite and on the real PostgreSQL: records, ordering, masking, timestamps."""

from __future__ import annotations

import uuid
from datetime import UTC
from pathlib import Path

import pytest

from orchestra_local.errors import StoreError
from orchestra_local.masking import Masker
from orchestra_local.store import RunStore, utcnow


def test_a_run_is_recorded_with_its_task_runs_outputs_and_operations(run_pipeline, metadata_url: str) -> None:
    finished = run_pipeline("""
        version: v1
        name: stored
        pipeline:
          ingest:
            matrix: {inputs: {table: [a, b]}}
            tasks:
              load: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT,
                     parameters: {project_dir: py, command: "python task.py --name ${{ MATRIX.table }}"}}
        """, metadata_url=metadata_url)
    store = finished.store
    assert store.engine.url.get_backend_name() == metadata_url.split(":")[0].split("+")[0]
    run = store.get_pipeline_run(finished.run_id)
    assert run["run_status"] == "SUCCEEDED" and run["pipeline_alias"] == "p" and run["yaml_path"] == "orchestra/p.yml"
    assert run["started_at"].tzinfo == UTC and run["completed_at"] >= run["started_at"]
    assert run["triggered_by"] == [{"triggerType": "MANUAL"}]
    task_runs = store.list_task_runs(finished.run_id)
    assert [(t["task_id"], t["matrix_parent"], t["iteration"]) for t in task_runs] == [
        ("load", True, None), ("load", False, 0), ("load", False, 1)
    ]
    assert task_runs[1]["task_parameters"]["command"] == "python task.py --name a"
    assert task_runs[2]["run_parameters"] == {"matrix": {"table": "b"}}
    assert store.get_outputs(task_runs[1]["id"])["table"] == "a"
    assert store.outputs_of_run(finished.run_id) == {t["id"]: store.get_outputs(t["id"]) for t in task_runs[1:]}
    assert store.open_task_processes(finished.run_id) == []  # process ends deferred to a later write: written
    assert sorted(op["operation_name"] for op in store.list_operations(pipeline_run_id=finished.run_id)) == ["a", "b"]
    assert store.list_pipeline_runs(limit=5)[0]["id"] == finished.run_id
    assert store.count_active_runs(run["pipeline_id"]) == 0


def test_secrets_are_masked_in_everything_written(metadata_url: str) -> None:
    store = RunStore(metadata_url, Masker(["s3cr3t-value"]))
    run_id = store.create_pipeline_run(
        pipeline_id=str(uuid.uuid4()), pipeline_name="n", pipeline_alias="a", yaml_path="y",
        run_inputs={"url": "postgresql://u:s3cr3t-value@h/db"}, message="failed with s3cr3t-value",
    )
    task_run_id = str(uuid.uuid4())
    store.create_task_runs([{"id": task_run_id, "pipeline_run_id": run_id, "pipeline_id": "p", "task_id": "t",
                             "task_name": "t", "group_id": "g", "integration": "PYTHON",
                             "integration_job": "PYTHON_EXECUTE_SCRIPT",
                             "task_parameters": {"command": "load --password s3cr3t-value"}}])
    store.set_outputs(task_run_id, {"dsn": "x s3cr3t-value y"})
    run = store.get_pipeline_run(run_id)
    assert run["run_inputs"] == {"url": "postgresql://u:***@h/db"}
    assert run["message"] == "failed with ***"
    assert store.list_task_runs(run_id)[0]["task_parameters"] == {"command": "load --password ***"}
    assert store.get_outputs(task_run_id) == {"dsn": "x *** y"}


def test_naive_timestamps_are_refused(tmp_path: Path) -> None:
    store = RunStore(f"sqlite:///{tmp_path / 'm.db'}")
    run_id = store.create_pipeline_run(pipeline_id="p", pipeline_name="n", pipeline_alias="a", yaml_path="y")
    with pytest.raises(StoreError):
        store.update_pipeline_run(run_id, started_at=utcnow().replace(tzinfo=None))


def test_unreachable_database_is_a_clear_error_without_the_password() -> None:
    with pytest.raises(StoreError) as caught:
        RunStore("postgresql+psycopg://someone:hunter2-secret@127.0.0.1:1/nowhere")
    assert "cannot open the metadata database" in str(caught.value)
    assert "hunter2-secret" not in str(caught.value)


def test_an_update_of_a_column_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    store = RunStore(f"sqlite:///{tmp_path / 'metadata.db'}")
    run_id = store.create_pipeline_run(pipeline_id="p", pipeline_name="p", pipeline_alias="p", yaml_path="p.yml")
    with pytest.raises(StoreError, match="not columns of pipeline_runs: mesage"):
        store.update_pipeline_run(run_id, mesage="typo")
    store.update_pipeline_run(run_id, message="kept")
    assert store.get_pipeline_run(run_id)["message"] == "kept"
    store.close()
