"""One small pipeline run by ``orchestra-local`` and by its exported Dagster job: the same status,
task run by task run (retries, a timeout treated as a warning, false conditions, a matrix from an
upstream task's outputs, a static matrix, a failing task and its dependent)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance

from orchestra_local.errors import RemoteOnlyIntegrationError
from orchestra_local.export.dagster_definitions import orchestra_definitions
from orchestra_local.export.dagster_statuses import pipeline_status, task_run_views
from orchestra_local.export.dagster_triggers import run_config

TABLES_SCRIPT = 'import json\nprint(json.dumps({"tables": ["alpha", "beta"], "rows_read": 0}))\n'

PIPELINE = """
version: v1
name: export semantics
inputs:
  counter:
    type: string
  run_gated:
    type: boolean
    default: false
pipeline:
  produce:
    tasks:
      list_tables:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        parameters:
          command: python py/tables.py
  per_table:
    depends_on: [produce]
    matrix:
      inputs:
        table: ${{ tasks['list_tables'].OUTPUTS['tables'] }}
    tasks:
      use_table:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        parameters:
          command: python py/task.py --name ${{ MATRIX.table }}
  summarise:
    depends_on: [per_table]
    tasks:
      count_tables:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        condition: ${{ tasks['use_table'].OUTPUTS['beta']['table'] == 'beta' }}
        parameters:
          command: python py/task.py --name ${{ len(tasks['use_table'].OUTPUTS) }}_tables
  flaky:
    tasks:
      flaky_task:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        configuration:
          retries: 2
          retry_delay: 0
        parameters:
          command: python py/task.py --name flaky --fail-until-attempt-file ${{ inputs.counter }}
  conditional:
    tasks:
      when_gated:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        condition: ${{ inputs.run_gated }}
        parameters:
          command: python py/task.py --name gated
      after_gated:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        depends_on: [when_gated]
        parameters:
          command: python py/task.py --name after_gated
      reads_skip:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        depends_on: [after_gated]
        condition: ${{ tasks['when_gated'].status == 'SKIPPED' }}
        parameters:
          command: python py/task.py --name reads_skip
  slow:
    tasks:
      times_out:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        treat_failure_as_warning: true
        configuration:
          timeout: 1
        parameters:
          command: python py/task.py --name slow --sleep 30
  broken:
    tasks:
      fails:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        parameters:
          command: python py/task.py --name broken --exit 3
      after_fails:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        depends_on: [fails]
        parameters:
          command: python py/task.py --name after_fails
  static:
    depends_on: [slow]
    matrix:
      inputs:
        n: [1, 2]
    tasks:
      echo_n:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        parameters:
          command: python py/task.py --name n${{ MATRIX.n }}
"""

EXPECTED = {
    "produce.list_tables": "SUCCEEDED",
    "per_table.use_table[alpha]": "SUCCEEDED",
    "per_table.use_table[beta]": "SUCCEEDED",
    "summarise.count_tables": "SUCCEEDED",
    "flaky.flaky_task": "SUCCEEDED",
    "conditional.when_gated": "SKIPPED",
    "conditional.after_gated": "SKIPPED",
    "conditional.reads_skip": "SUCCEEDED",
    "slow.times_out": "WARNING",
    "broken.fails": "FAILED",
    "broken.after_fails": "SKIPPED",
    "static.echo_n[1]": "SUCCEEDED",
    "static.echo_n[2]": "SUCCEEDED",
}


def test_the_exported_job_ends_every_task_run_as_orchestra_local_does(task_repo: Path, run_pipeline) -> None:
    (task_repo / "py" / "tables.py").write_text(TABLES_SCRIPT)
    local = run_pipeline(PIPELINE, inputs={"counter": str(task_repo / "local.count")})
    local_runs = {label: record for label, record in local.by_label().items() if not label.endswith("[*]")}
    assert {label: r["status"] for label, r in local_runs.items()} == EXPECTED
    assert local.status == "FAILED"

    job = orchestra_definitions(task_repo / "orchestra" / "p.yml").get_job_def("p")
    instance = DagsterInstance.ephemeral()
    result = job.execute_in_process(instance=instance, raise_on_error=False,
                                    run_config=run_config({"counter": str(task_repo / "dagster.count")}))
    views = task_run_views(job, instance.all_logs(result.run_id))
    assert {label: view.status.value for label, view in views.items()} == EXPECTED
    assert pipeline_status(instance, result.run_id, job).value == local.status

    # retries: two attempts on both sides, the first one failed; Dagster retried the step once
    assert local_runs["flaky.flaky_task"]["number_of_attempts"] == views["flaky.flaky_task"].attempts == 2
    retried = [e.step_key for e in result.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY]
    assert retried == ["flaky__flaky_task"]
    # the timeout (seconds) was enforced inside the op, then the failure became a warning
    assert "timed out after 1 seconds" in views["slow.times_out"].message
    assert "timed out after 1 seconds" in local_runs["slow.times_out"]["message"]
    # outputs passed between ops: the matrix came from list_tables' outputs
    assert views["produce.list_tables"].outputs["tables"] == ["alpha", "beta"]
    # downstream of the mapped group, the matrix task's outputs are keyed by iteration value, as locally
    local_outputs = local.store.get_outputs(local_runs["summarise.count_tables"]["id"])
    assert views["summarise.count_tables"].outputs["table"] == local_outputs["table"]
    assert views["summarise.count_tables"].outputs["table"] == "2_tables"
    # Dagster itself skipped what follows a false condition (no output), and did not run what follows a failure
    skipped = {e.step_key for e in result.all_events if e.event_type == DagsterEventType.STEP_SKIPPED}
    assert skipped == set()  # after_gated ran its gating (a condition downstream reads its record)
    failed = {e.step_key for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE}
    assert failed == {"broken__fails"}
    # each op's logs are in Dagster's event log
    messages = [e.message for e in instance.all_logs(result.run_id) if e.step_key == "per_table__use_table[1_beta]"]
    assert any("task beta run" in (m or "") for m in messages), messages


def test_a_false_condition_makes_dagster_skip_the_dependents(task_repo: Path) -> None:
    (task_repo / "orchestra" / "gate.yml").write_text(textwrap.dedent("""
        version: v1
        name: gate
        pipeline:
          gate:
            tasks:
              first:
                integration: PYTHON
                integration_job: PYTHON_EXECUTE_SCRIPT
                condition: ${{ 1 == 2 }}
                parameters:
                  command: python py/task.py --name first
              second:
                integration: PYTHON
                integration_job: PYTHON_EXECUTE_SCRIPT
                depends_on: [first]
                parameters:
                  command: python py/task.py --name second
    """))
    job = orchestra_definitions(task_repo / "orchestra" / "gate.yml").get_job_def("gate")
    instance = DagsterInstance.ephemeral()
    result = job.execute_in_process(instance=instance)
    assert [e.step_key for e in result.all_events if e.event_type == DagsterEventType.STEP_SKIPPED] == ["gate__second"]
    views = task_run_views(job, instance.all_logs(result.run_id))
    assert {label: v.status.value for label, v in views.items()} == {"gate.first": "SKIPPED", "gate.second": "SKIPPED"}
    assert "condition is false" in views["gate.first"].message


def test_remote_only_integrations_are_refused_with_the_list_run_gives(task_repo: Path, cli) -> None:
    path = task_repo / "orchestra" / "saas.yml"
    path.write_text(textwrap.dedent("""
        version: v1
        name: saas
        pipeline:
          sync:
            tasks:
              fivetran_sync:
                integration: FIVETRAN
                integration_job: FIVETRAN_SYNC_ALL
                parameters:
                  connector_id: abc
    """))
    listed = "sync.fivetran_sync (FIVETRAN/FIVETRAN_SYNC_ALL)"
    with pytest.raises(RemoteOnlyIntegrationError, match=r"saas\.yml.*only run on hosted Orchestra: " + listed.replace("(", r"\(").replace(")", r"\)")):
        orchestra_definitions(path)
    ran = cli("run", str(path))
    exported = cli("export", "dagster", "--pipelines", str(path), "--out", str(task_repo / "deploy"))
    assert ran.returncode == exported.returncode == 2
    assert listed in ran.stdout + ran.stderr and listed in exported.stdout + exported.stderr
    assert not (task_repo / "deploy").exists()
    assert json.dumps(listed)  # the same text on both sides, checked above
