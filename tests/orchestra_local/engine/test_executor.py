"""Executor semantics (orchestra-contract section 3), each scenario with one and with two workers."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from orchestra_local.errors import RemoteOnlyIntegrationError, RunInputError

WORKERS = pytest.mark.parametrize("workers", [1, 2], ids=["1-worker", "2-workers"])


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (orphans may wait for a reaper here)."""
    deadline = time.monotonic() + 10  # SIGTERM is asynchronous; give the process a moment to exit
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return False
        if state == "Z":
            return False
        time.sleep(0.05)
    return True


def py(args: str, extra: str = "") -> str:
    """A PYTHON_EXECUTE_SCRIPT task calling tests' task.py (flow style fits any indentation)."""
    return (
        "{integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, "
        f"parameters: {{project_dir: py, command: 'python task.py {args}'}}{extra}}}"
    )


@WORKERS
def test_matrix_then_downstream_succeeds_and_links_children(run_pipeline, workers: int) -> None:
    finished = run_pipeline(f"""
        version: v1
        name: ok
        pipeline:
          ingest:
            matrix: {{inputs: {{table: [a, b, c]}}}}
            tasks:
              load: {py("--name ${{ MATRIX.table }}")}
          report:
            depends_on: [ingest]
            tasks:
              summarise: {py("--name summary")}
        """, workers=workers)
    assert finished.status == "SUCCEEDED"
    runs = finished.by_label()
    assert finished.statuses() == {
        "ingest.load[*]": "SUCCEEDED", "ingest.load[a]": "SUCCEEDED", "ingest.load[b]": "SUCCEEDED",
        "ingest.load[c]": "SUCCEEDED", "report.summarise": "SUCCEEDED",
    }
    parent = runs["ingest.load[*]"]
    assert parent["matrix_parent"] is True
    assert {runs[f"ingest.load[{t}]"]["matrix_parent_id"] for t in "abc"} == {parent["id"]}
    assert finished.store.get_outputs(runs["ingest.load[b]"]["id"])["rows_written"] == 3
    operations = finished.store.list_operations(pipeline_run_id=finished.run_id)
    assert sorted(op["operation_name"] for op in operations) == ["a", "b", "c", "summary"]
    assert all(op["operation_type"] == "INGESTION" and op["rows_affected"] == 3 for op in operations)
    child_start = max(runs[f"ingest.load[{t}]"]["completed_at"] for t in "abc")
    assert runs["report.summarise"]["started_at"] >= child_start


@WORKERS
def test_failure_is_retried_then_fails_and_skips_downstream(run_pipeline, workers: int) -> None:
    finished = run_pipeline(f"""
        version: v1
        name: failing
        configuration: {{retries: 2, retry_delay: 1}}
        pipeline:
          work:
            tasks:
              boom: {py("--exit 3")}
              after: {py("", ", depends_on: [boom]")}
          later:
            depends_on: [work]
            tasks:
              never: {py("")}
        """, workers=workers)
    assert finished.status == "FAILED"
    runs = finished.by_label()
    boom = runs["work.boom"]
    assert boom["status"] == "FAILED"
    assert boom["number_of_attempts"] == 3
    assert "exited with code 3" in boom["message"] and "failing on purpose" in boom["message"]
    logs = finished.store.list_files(boom["id"], "log")
    assert [f["filename"] for f in logs] == ["1/command.log", "2/command.log", "3/command.log"]
    assert runs["work.after"]["status"] == "SKIPPED"
    assert "boom is FAILED" in runs["work.after"]["message"]
    assert runs["later.never"]["status"] == "SKIPPED"


@WORKERS
def test_a_retry_that_succeeds_ends_succeeded(run_pipeline, task_repo: Path, workers: int) -> None:
    counter = task_repo / "attempts.txt"
    finished = run_pipeline(f"""
        version: v1
        name: flaky
        pipeline:
          work:
            tasks:
              flaky: {py(f"--fail-until-attempt-file {counter}", ", configuration: {retries: 1, retry_delay: 2}")}
        """, workers=workers)
    assert finished.status == "SUCCEEDED"
    assert finished.by_label()["work.flaky"]["number_of_attempts"] == 2


@WORKERS
def test_treat_failure_as_warning_lets_downstream_run(run_pipeline, workers: int) -> None:
    finished = run_pipeline(f"""
        version: v1
        name: warning
        pipeline:
          work:
            tasks:
              soft: {py("--exit 1", ", treat_failure_as_warning: true")}
          later:
            depends_on: [work]
            tasks:
              runs: {py("")}
        """, workers=workers)
    assert finished.status == "WARNING"
    assert finished.statuses() == {"work.soft": "WARNING", "later.runs": "SUCCEEDED"}
    assert finished.by_label()["work.soft"]["message"].startswith("failed, treated as a warning")


@WORKERS
def test_timeout_kills_the_process_group(run_pipeline, task_repo: Path, workers: int) -> None:
    pidfile = task_repo / "pid"
    started = time.monotonic()
    finished = run_pipeline(f"""
        version: v1
        name: slow
        pipeline:
          work:
            tasks:
              slow: {py(f"--sleep 60 --pidfile {pidfile}", ", configuration: {timeout: 1}")}
        """, workers=workers)
    assert time.monotonic() - started < 15
    assert finished.status == "FAILED"
    record = finished.by_label()["work.slow"]
    assert "timed out after 1 seconds" in record["message"]
    assert not alive(int(pidfile.read_text()))


@WORKERS
def test_matrix_stops_after_a_failed_iteration_unless_continue_on_error(run_pipeline, workers: int) -> None:
    matrix_yaml = """
        version: v1
        name: matrix
        pipeline:
          ingest:
            matrix: {{inputs: {{code: [0, 5, 0, 0]}}, sequential: true{extra}}}
            tasks:
              load: {task}
        """
    task = py("--exit ${{ MATRIX.code }} --name n${{ MATRIX.code }}")
    stopped = run_pipeline(matrix_yaml.format(extra="", task=task), workers=workers)
    assert stopped.status == "FAILED"
    statuses = [r["status"] for r in stopped.task_runs() if not r["matrix_parent"]]
    assert statuses == ["SUCCEEDED", "FAILED", "SKIPPED", "SKIPPED"]
    assert stopped.by_label()["ingest.load[*]"]["status"] == "FAILED"
    went_on = run_pipeline(matrix_yaml.format(extra=", continue_on_error: true", task=task), workers=workers)
    statuses = [r["status"] for r in went_on.task_runs() if not r["matrix_parent"]]
    assert statuses == ["SUCCEEDED", "FAILED", "SUCCEEDED", "SUCCEEDED"]


@WORKERS
def test_conditions_skip_or_take_the_failure_branch(run_pipeline, workers: int) -> None:
    on_failure = py("", ", depends_on: [main], condition: \"${{ tasks['main'].status == 'FAILED' }}\"")
    on_success = py("", ", depends_on: [main], condition: \"${{ tasks['main'].status == 'SUCCEEDED' }}\"")
    finished = run_pipeline(f"""
        version: v1
        name: conditions
        inputs:
          full_refresh: {{type: boolean, default: false}}
        pipeline:
          work:
            tasks:
              main: {py("--exit 2")}
              on_failure: {on_failure}
              on_success: {on_success}
          refresh:
            condition: "${{{{ inputs.full_refresh }}}}"
            tasks:
              full: {py("")}
        """, workers=workers)
    statuses = finished.statuses()
    assert statuses == {
        "work.main": "FAILED", "work.on_failure": "SUCCEEDED", "work.on_success": "SKIPPED", "refresh.full": "SKIPPED",
    }
    assert "condition is false" in finished.by_label()["refresh.full"]["message"]


@WORKERS
def test_paused_tasks_do_not_run_but_do_not_block(run_pipeline, workers: int) -> None:
    finished = run_pipeline(f"""
        version: v1
        name: paused
        pipeline:
          work:
            tasks:
              resting: {py("--exit 9", ", paused: true")}
          later:
            depends_on: [work]
            tasks:
              runs: {py("")}
        """, workers=workers)
    assert finished.statuses() == {"work.resting": "SKIPPED", "later.runs": "SUCCEEDED"}
    assert finished.status == "SUCCEEDED"


@WORKERS
def test_cancel_terminates_running_processes_and_leaves_nothing_running(run_pipeline, task_repo: Path, workers: int) -> None:
    pidfile = task_repo / "pid"

    def cancel_when_started(execution) -> None:
        def watch() -> None:
            deadline = time.monotonic() + 20
            while not pidfile.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            execution.cancel()

        threading.Thread(target=watch, daemon=True).start()

    started = time.monotonic()
    finished = run_pipeline(f"""
        version: v1
        name: cancel
        pipeline:
          work:
            matrix: {{inputs: {{n: [1, 2, 3]}}, sequential: true}}
            tasks:
              slow: {py(f"--sleep 60 --pidfile {pidfile}")}
          later:
            depends_on: [work]
            tasks:
              never: {py("")}
        """, workers=workers, on_start=cancel_when_started)
    assert time.monotonic() - started < 20
    assert finished.status == "CANCELLED"
    statuses = [r["status"] for r in finished.task_runs()]
    assert set(statuses) == {"CANCELLED"}, statuses
    assert not alive(int(pidfile.read_text()))
    record = finished.store.get_pipeline_run(finished.run_id)
    assert record["run_status"] == "CANCELLED" and record["completed_at"] is not None


def test_missing_required_input_is_refused_before_a_run_exists(run_pipeline) -> None:
    with pytest.raises(RunInputError, match="Missing required pipeline input: day"):
        run_pipeline(f"""
            version: v1
            name: inputs
            inputs:
              day: {{type: string}}
            pipeline:
              work:
                tasks:
                  t: {py("")}
            """)


def test_remote_only_tasks_refuse_the_run_or_are_skipped(run_pipeline) -> None:
    yaml_text = f"""
        version: v1
        name: mixed
        pipeline:
          sync:
            tasks:
              fivetran: {{integration: FIVETRAN, integration_job: FIVETRAN_SYNC_ALL, parameters: {{connector_id: abc_def}}}}
          local:
            tasks:
              t: {py("")}
        """
    with pytest.raises(RemoteOnlyIntegrationError, match=r"sync\.fivetran \(FIVETRAN/FIVETRAN_SYNC_ALL\)"):
        run_pipeline(yaml_text)
    finished = run_pipeline(yaml_text, skip_remote=True)
    assert finished.statuses() == {"sync.fivetran": "SKIPPED", "local.t": "SUCCEEDED"}
    assert "remote-only" in finished.by_label()["sync.fivetran"]["message"]


def test_skip_remote_runs_the_local_tasks_downstream_of_a_remote_one(run_pipeline) -> None:
    finished = run_pipeline(f"""
        version: v1
        name: downstream-of-remote
        pipeline:
          sync:
            tasks:
              fivetran: {{integration: FIVETRAN, integration_job: FIVETRAN_SYNC_ALL, parameters: {{connector_id: abc_def}}}}
              after_sync: {py("", ", depends_on: [fivetran]")}
          transform:
            depends_on: [sync]
            tasks:
              t: {py("")}
        """, skip_remote=True)
    assert finished.statuses() == {"sync.fivetran": "SKIPPED", "sync.after_sync": "SUCCEEDED", "transform.t": "SUCCEEDED"}
    assert "downstream tasks run as if it succeeded" in finished.by_label()["sync.fivetran"]["message"]
    assert finished.status == "SUCCEEDED"


def test_bad_parameters_fail_the_task_without_retrying(run_pipeline) -> None:
    finished = run_pipeline("""
        version: v1
        name: bad-params
        configuration: {retries: 3}
        inputs:
          env: {type: string, default: "not json"}
        pipeline:
          work:
            tasks:
              t: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT,
                  parameters: {command: python task.py, project_dir: py, environment_variables: "${{ inputs.env }}"}}
        """)
    record = finished.by_label()["work.t"]
    assert record["status"] == "FAILED" and record["number_of_attempts"] == 1
    assert "environment_variables must be a JSON object written in the pipeline file" in record["message"]
