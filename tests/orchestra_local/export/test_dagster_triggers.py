"""``schedule`` and ``trigger_events`` as Dagster schedules and run-status sensors, and the generated
definitions.py that loads them."""

from __future__ import annotations

import textwrap
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    Definitions,
    RunRequest,
    SkipReason,
    build_run_status_sensor_context,
    build_schedule_context,
)
from dagster._core.definitions.reconstruct import ReconstructableRepository

from orchestra_local.errors import PipelineValidationError
from orchestra_local.export.codegen import definitions_text
from orchestra_local.export.dagster_definitions import orchestra_definitions
from orchestra_local.export.dagster_triggers import _year_matches, dagster_cron, run_config

REPO_ROOT = Path(__file__).resolve().parents[3]

UPSTREAM = """
version: v1
name: upstream
schedule:
  - name: Weekdays at 08:00 London
    cron: 0 8 ? * MON-FRI *
    timezone: Europe/London
    run_inputs:
      day: today
inputs:
  day:
    type: string
    default: ""
  fail:
    type: boolean
    default: false
pipeline:
  work:
    tasks:
      step:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        condition: ${{ not inputs.fail and inputs.day != 'skip' }}
        parameters:
          command: python py/task.py --name upstream
      broken:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        condition: ${{ inputs.fail }}
        parameters:
          command: python py/task.py --name broken --exit 2
"""

DOWNSTREAM = """
version: v1
name: downstream
inputs:
  parent:
    type: string
    default: ""
trigger_events:
  - type: pipeline
    pipeline_id: upstream
    statuses: [SUCCEEDED, FAILED]
    run_inputs:
      parent: ${{ outputs.pipeline_run["pipeline_run_id"] }}
pipeline:
  follow:
    tasks:
      follow_up:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        parameters:
          command: python py/task.py --name downstream
"""


def write(repo: Path, name: str, text: str) -> Path:
    path = repo / "orchestra" / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize(("eventbridge", "dagster", "year"), [
    ("0 8 ? * MON-FRI *", "0 8 * * 1-5", None),
    ("0 6 ? * * *", "0 6 * * *", None),
    ("15 */2 1 * ? 2027", "15 */2 1 * *", "2027"),
    ("0 9 ? * 2#1 *", "0 9 * * 1#1", None),
])
def test_eventbridge_cron_in_dagster_terms(eventbridge: str, dagster: str, year: str | None) -> None:
    assert dagster_cron(eventbridge) == (dagster, year)


def test_year_fields() -> None:
    assert _year_matches("2027", 2027) and not _year_matches("2027", 2028)
    assert _year_matches("2026-2028", 2027) and _year_matches("2026,2030", 2030) and not _year_matches("2026,2030", 2029)
    assert _year_matches("*/2", 1972) and not _year_matches("*/2", 1973)


def test_a_schedule_and_a_trigger_event_load_as_dagster_definitions(task_repo: Path) -> None:
    write(task_repo, "upstream.yml", UPSTREAM)
    write(task_repo, "downstream.yml", DOWNSTREAM)
    defs = orchestra_definitions(task_repo / "orchestra")
    Definitions.validate_loadable(defs)
    (schedule,) = defs.schedules
    assert (schedule.name, schedule.cron_schedule, schedule.execution_timezone, schedule.job_name) == (
        "upstream__schedule__0__Weekdays_at_08_00_London", "0 8 * * 1-5", "Europe/London", "upstream")
    tick = schedule.evaluate_tick(build_schedule_context(
        scheduled_execution_time=datetime(2026, 12, 7, 8, tzinfo=ZoneInfo("Europe/London"))))
    assert [r.run_config for r in tick.run_requests or ()] == [run_config({"day": "today"})]
    sensors = {sensor.name: sensor for sensor in defs.sensors}
    assert set(sensors) == {"downstream__trigger__0__success", "downstream__trigger__0__failure"}
    assert {s.job_name for s in sensors.values()} == {"downstream"}

    # the sensor reads the ended run's Orchestra status and maps it into the run inputs
    upstream = defs.get_job_def("upstream")
    instance = DagsterInstance.ephemeral()
    succeeded = upstream.execute_in_process(instance=instance)
    sensor = sensors["downstream__trigger__0__success"]
    run = instance.get_run_by_id(succeeded.run_id)
    context = build_run_status_sensor_context(sensor_name=sensor.name, dagster_event=succeeded.get_run_success_event(),
                                              dagster_instance=instance, dagster_run=run)
    request = sensor(context)
    assert isinstance(request, RunRequest)
    assert request.run_config == {"resources": {"orchestra": {"config": {"inputs": {"parent": succeeded.run_id}}}}}
    assert run.status == DagsterRunStatus.SUCCESS


def test_a_trigger_on_an_unknown_pipeline_is_refused_with_its_yaml_path(task_repo: Path) -> None:
    write(task_repo, "downstream.yml", DOWNSTREAM)
    with pytest.raises(PipelineValidationError, match=r"downstream\.yml:\d+.*trigger_events\[0\]\.pipeline_id: no exported "
                                                      r"pipeline has id or alias 'upstream'"):
        orchestra_definitions(task_repo / "orchestra")


def test_only_the_statuses_named_trigger(task_repo: Path) -> None:
    write(task_repo, "upstream.yml", UPSTREAM)
    write(task_repo, "downstream.yml", DOWNSTREAM)
    defs = orchestra_definitions(task_repo / "orchestra")
    sensors = {sensor.name: sensor for sensor in defs.sensors}
    instance = DagsterInstance.ephemeral()
    upstream = defs.get_job_def("upstream")

    def evaluate(sensor_name: str, inputs: dict[str, object]) -> RunRequest | SkipReason:
        result = upstream.execute_in_process(instance=instance, run_config=run_config(inputs), raise_on_error=False)
        ended = result.get_run_success_event() if result.success else result.get_run_failure_event()
        context = build_run_status_sensor_context(sensor_name=sensor_name, dagster_event=ended,
                                                  dagster_instance=instance,
                                                  dagster_run=instance.get_run_by_id(result.run_id))
        return sensors[sensor_name](context)

    # every task skipped: a Dagster success, an Orchestra SKIPPED run, which [SUCCEEDED, FAILED] does not name
    skipped = evaluate("downstream__trigger__0__success", {"day": "skip"})
    assert isinstance(skipped, SkipReason) and "ended SKIPPED" in (skipped.skip_message or "")
    failed = evaluate("downstream__trigger__0__failure", {"fail": True})
    assert isinstance(failed, RunRequest) and failed.run_key and failed.run_key.endswith(":0")


def test_the_committed_definitions_file_is_what_export_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO_ROOT)
    committed = REPO_ROOT / "deploy" / "dagster" / "definitions.py"
    assert committed.read_text() == definitions_text(Path("orchestra"), Path("deploy/dagster"))
    repository = ReconstructableRepository.for_file(str(committed), "defs").get_definition()
    assert "tpch_elt" in {job.name for job in repository.get_all_jobs()}
