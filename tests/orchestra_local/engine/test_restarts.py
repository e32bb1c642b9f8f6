"""Restart options: retry a run from its failures, or run selected tasks (with their downstream)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestra_local.engine.runner import RunRequest, prepare_run
from orchestra_local.errors import InvalidInputError
from orchestra_local.settings import resolve_settings
from orchestra_local.spec.loader import load_file
from orchestra_local.store import RunStore

# count.py appends its name to a file (so re-executions are visible), fails while a gate file is missing.
COUNT = '''
import json, os, sys
name, log, gate = sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else ""
open(log, "a").write(name + "\\n")
if gate and not os.path.exists(gate):
    sys.exit(f"{name}: gate {gate} is closed")
print(json.dumps({"who": name}))
'''


@pytest.fixture
def counted(task_repo: Path) -> Path:
    (task_repo / "py" / "count.py").write_text(COUNT)
    return task_repo


PIPELINE = """
version: v1
name: restarts
inputs:
  label: {type: string}
pipeline:
  extract:
    matrix: {inputs: {part: [p1, p2]}}
    tasks:
      pull:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        parameters: {project_dir: py, command: "python count.py pull-${{ MATRIX.part }} LOG GATE-${{ MATRIX.part }}"}
  load:
    depends_on: [extract]
    tasks:
      stage:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        parameters: {project_dir: py, command: "python count.py stage-${{ inputs.label }} LOG"}
      publish:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        depends_on: [stage]
        parameters: {project_dir: py, command: "python count.py publish LOG"}
"""


def pipeline(log: Path, gate: Path) -> str:
    return PIPELINE.replace("LOG", str(log)).replace("GATE", str(gate))


def executions(log: Path) -> list[str]:
    return log.read_text().split()


def test_retry_from_failed_reruns_only_what_failed_or_was_skipped(run_pipeline, counted: Path) -> None:
    log, gate = counted / "executions.log", counted / "gate"
    (counted / "gate-p1").touch()  # p1 passes, p2 fails the first time
    first = run_pipeline(pipeline(log, gate), inputs={"label": "x"})
    assert first.status == "FAILED"
    assert first.statuses() == {"extract.pull[*]": "FAILED", "extract.pull[p1]": "SUCCEEDED",
                                "extract.pull[p2]": "FAILED", "load.stage": "SKIPPED", "load.publish": "SKIPPED"}
    assert sorted(executions(log)) == ["pull-p1", "pull-p2"]

    (counted / "gate-p2").touch()
    path = counted / "orchestra" / "p.yml"
    settings = resolve_settings(path, max_parallel=2)
    store = RunStore(settings.metadata_url)
    execution = prepare_run(load_file(path), RunRequest(retry_from_failed=first.run_id, env=dict(os.environ)),
                            settings=settings, store=store)
    second = execution.execute()
    assert second.status == "SUCCEEDED"
    assert sorted(executions(log)) == ["publish", "pull-p1", "pull-p2", "pull-p2", "stage-x"]
    runs = {(r["task_id"], (r["run_parameters"] or {}).get("matrix", {}).get("part")): r
            for r in store.list_task_runs(second.pipeline_run_id) if not r["matrix_parent"]}
    reused = runs[("pull", "p1")]
    assert reused["status"] == "SUCCEEDED" and reused["number_of_attempts"] == 0
    assert reused["message"] == f"reused from pipeline run {first.run_id}"
    assert store.get_outputs(reused["id"]) == {"who": "pull-p1"}
    assert runs[("pull", "p2")]["number_of_attempts"] == 1
    record = store.get_pipeline_run(second.pipeline_run_id)
    assert record["triggered_by"] == [{"triggerType": "RESTART_FROM_FAILED", "pipelineRunId": first.run_id}]
    assert record["run_inputs"] == {"label": "x"}


def run_selected(counted: Path, task_ids: list[str], continue_downstream: bool):
    path = counted / "orchestra" / "p.yml"
    settings = resolve_settings(path, max_parallel=2)
    store = RunStore(settings.metadata_url)
    request = RunRequest(inputs={"label": "y"}, task_ids=task_ids, continue_downstream=continue_downstream,
                         env=dict(os.environ))
    outcome = prepare_run(load_file(path), request, settings=settings, store=store).execute()
    records = store.list_task_runs(outcome.pipeline_run_id)
    statuses = {r["task_id"]: r["status"] for r in records if not r["matrix_parent_id"]}
    if outcome.status != "SUCCEEDED":  # say why in the assertion that follows
        statuses["messages"] = [(r["task_id"], r["status"], r["message"]) for r in records]
    return outcome, statuses, store


@pytest.mark.parametrize(("task_ids", "downstream", "expected_runs"), [
    (["stage"], False, ["stage-y"]),
    (["STAGE"], True, ["publish", "stage-y"]),
    (["pull"], True, ["publish", "pull-p1", "pull-p2", "stage-y"]),
], ids=["only-selected", "with-downstream-case-insensitive", "matrix-task-with-downstream"])
def test_selected_tasks_run_and_the_rest_is_skipped(
    run_pipeline, counted: Path, task_ids: list[str], downstream: bool, expected_runs: list[str]
) -> None:
    log, gate = counted / "executions.log", counted / "gate"
    (counted / "gate-p1").touch()
    (counted / "gate-p2").touch()
    run_pipeline(pipeline(log, gate), inputs={"label": "first"})
    log.unlink()
    outcome, statuses, store = run_selected(counted, task_ids, downstream)
    assert outcome.status == "SUCCEEDED", statuses
    assert sorted(executions(log)) == expected_runs
    skipped = [task for task, status in statuses.items() if status == "SKIPPED"]
    assert all(not any(task in name for name in expected_runs) for task in skipped)
    record = store.get_pipeline_run(outcome.pipeline_run_id)
    assert record["triggered_by"][0]["triggerType"] == "RESTART_FROM_TASKS"


def test_bad_restart_requests_are_refused(run_pipeline, counted: Path) -> None:
    log, gate = counted / "executions.log", counted / "gate"
    run_pipeline(pipeline(log, gate), inputs={"label": "z"})
    with pytest.raises(InvalidInputError, match="task ids not in this pipeline: nope"):
        run_selected(counted, ["nope"], False)
    path = counted / "orchestra" / "p.yml"
    settings = resolve_settings(path)
    with pytest.raises(InvalidInputError, match="no pipeline run 00000000"):
        prepare_run(load_file(path), RunRequest(retry_from_failed="00000000-0000-0000-0000-000000000000"),
                    settings=settings, store=RunStore(settings.metadata_url))
