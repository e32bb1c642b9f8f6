"""Sensors on an injected clock, polling real sources: PostgreSQL, a moto S3 server, the runner's own store."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
import sqlalchemy
import yaml
from click.testing import CliRunner

from orchestra_local.api.service import RunService, StartOptions
from orchestra_local.cli import main
from orchestra_local.connections import Connection
from orchestra_local.scheduling.scheduler import Scheduler
from orchestra_local.scheduling.sensor_checks import CheckContext, CheckResult
from orchestra_local.scheduling.sensor_checks.s3 import s3_file
from orchestra_local.scheduling.sensors import SensorTrigger
from orchestra_local.settings import resolve_settings
from orchestra_local.store import RunStore
from orchestra_local.store.sensor_events import record_sensor_event
from orchestra_local.store.ticks import list_ticks
from orchestra_local.workspace import Workspace
from tests.conftest import free_port, postgres_fields

PIPELINE = """
version: v1
name: {alias}
inputs:
  day: {{type: string, default: none}}
  who: {{type: string, default: nobody}}
sensors:
  landed:
    name: Batch landed
    cron: "{cron}"
    timezone: UTC
    timeout_mins: 2
    frequency_secs: 30
    run_inputs: {{who: sensor}}
    checks:
{checks}
pipeline:
  g:
    tasks:
      say: {{integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT,
             parameters: {{project_dir: py, command: "python task.py --name ${{{{ inputs.day }}}}"}}}}
"""
EVERY_5_MINUTES = "0/5 * ? * * *"
UPSTREAM = """
version: v1
name: upstream
pipeline:
  g:
    tasks:
      say: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT,
            parameters: {project_dir: py, command: "python task.py --name upstream"}}
"""


def _write(repo: Path, alias: str, checks: dict, cron: str = EVERY_5_MINUTES, **sensor: object) -> None:
    text = PIPELINE.format(alias=alias, cron=cron, checks=textwrap.indent(yaml.safe_dump(checks), " " * 6))
    for key, value in sensor.items():  # extra sensor keys, e.g. condition
        text = text.replace("    checks:\n", f"    {key}: {json.dumps(value)}\n    checks:\n", 1)
    (repo / "orchestra" / f"{alias}.yml").write_text(text)


def _service(repo: Path, connections: dict[str, dict] | None = None) -> RunService:
    (repo / "connections.yml").write_text(yaml.safe_dump({"connections": connections or {}}))
    settings = resolve_settings(repo / "orchestra", repo_root=repo, max_parallel=2)
    return RunService(settings, RunStore(settings.metadata_url), Workspace.load(repo))


@pytest.fixture
def pg_service(task_repo: Path, postgres_url: str) -> Iterator[RunService]:
    service = _service(task_repo, {"warehouse": {"integration": "POSTGRES", "fields": postgres_fields(postgres_url)}})
    yield service
    service.shutdown()


def _execute(postgres_url: str, sql: str) -> None:
    engine = sqlalchemy.create_engine(postgres_url, poolclass=sqlalchemy.pool.NullPool)
    with engine.begin() as connection:
        connection.exec_driver_sql(sql)
    engine.dispose()


def _query_check(schema: str, **extra: object) -> dict:
    return {"batch": {"integration": "POSTGRES", "sensor_type": "POSTGRES_QUERY", "connection": "warehouse",
                      "parameters": {"statement": f"select day::text as day from {schema}.batches where ready"},
                      "map_outputs": {"day": "${{ outputs.results[0].day }}"}, **extra}}


@pytest.mark.postgres
def test_a_postgres_query_sensor_starts_one_run_when_the_row_lands_and_times_out_without_it(
        pg_service: RunService, task_repo: Path, schema: str, postgres_url: str) -> None:
    _execute(postgres_url, f"create table {schema}.batches (day date, ready boolean)")
    _write(task_repo, "sensed", _query_check(schema))
    scheduler = Scheduler(pg_service, synchronous_sensors=True)
    start = datetime(2026, 12, 7, 10, 0, 0, 500_000, tzinfo=UTC)
    assert scheduler.evaluate(start) == []  # first start: the 10:00 window (already open) is not opened
    assert scheduler.evaluate(start + timedelta(minutes=5)) == []  # 10:05 opens; poll 1: no row
    _execute(postgres_url, f"insert into {schema}.batches values ('2026-12-07', false)")
    assert scheduler.evaluate(start + timedelta(minutes=5, seconds=29)) == []  # not due (every 30 s)
    assert scheduler.evaluate(start + timedelta(minutes=5, seconds=31)) == []  # poll 2: the row is not ready
    _execute(postgres_url, f"update {schema}.batches set ready = true")
    (started,) = scheduler.evaluate(start + timedelta(minutes=6, seconds=1))  # poll 3: ready
    assert started.outcome == "STARTED" and started.scheduled_for == datetime(2026, 12, 7, 10, 5, tzinfo=UTC)
    assert scheduler.evaluate(start + timedelta(minutes=6, seconds=40)) == []  # the window closed with the start
    run = _ended(pg_service, started.pipeline_run_id)
    assert run["run_status"] == "SUCCEEDED" and run["run_inputs"] == {"who": "sensor", "day": "2026-12-07"}
    (trigger,) = run["triggered_by"]
    assert trigger["triggerType"] == "SENSOR" and trigger["sensorName"] == "Batch landed"

    _execute(postgres_url, f"delete from {schema}.batches")
    for offset in (10, 10.5, 11, 11.5):  # the 10:10 window: four polls, never a row
        assert scheduler.evaluate(start + timedelta(minutes=offset)) == []
    (timed_out,) = scheduler.evaluate(start + timedelta(minutes=12))
    assert timed_out.outcome == "TIMED_OUT" and "4 poll(s)" in timed_out.reason
    assert "check 'batch': query returned 0 row(s)" in timed_out.reason
    assert len(pg_service.store.list_pipeline_runs(limit=10)) == 1

    listing = CliRunner().invoke(main, ["ticks", "sensed", "--state-dir", str(pg_service.settings.state_dir)])
    assert listing.exit_code == 0, listing.output
    assert "TIMED_OUT" in listing.output and "STARTED" in listing.output and started.pipeline_run_id in listing.output
    (started_tick,) = [tick for tick in list_ticks(pg_service.store, "sensed") if tick["outcome"] == "STARTED"]
    assert started_tick["reason"] == "check 'batch': query returned 1 row(s)"  # why it started


@pytest.mark.postgres
def test_a_sensor_that_cannot_work_as_written_fails_its_window_at_once(
        pg_service: RunService, task_repo: Path, schema: str) -> None:
    checks = _query_check(schema)
    checks["batch"]["parameters"] = {"statment": "select 1"}  # a typo
    checks["other"] = {**_query_check(schema)["batch"], "connection": "nowhere"}
    _write(task_repo, "broken", checks)
    _write(task_repo, "elsewhere", {"other": {**_query_check(schema)["batch"], "connection": "nowhere"}})
    scheduler = Scheduler(pg_service, synchronous_sensors=True)
    scheduler.evaluate(datetime(2026, 12, 7, 10, 4, tzinfo=UTC))
    results = {r.trigger.pipeline.alias: r for r in scheduler.evaluate(datetime(2026, 12, 7, 10, 5, tzinfo=UTC))}
    assert results["broken"].outcome == "FAILED"
    assert results["broken"].reason == ("sensors.landed.checks.batch.parameters.statement: field required; "
                                        "sensors.landed.checks.batch.parameters.statment: extra inputs are not permitted")
    assert results["elsewhere"].outcome == "FAILED"
    assert "sensors.landed.checks.other.connection: no connection named 'nowhere'" in results["elsewhere"].reason


def test_a_check_only_hosted_orchestra_evaluates_is_skipped_never_faked(task_repo: Path) -> None:
    service = _service(task_repo)
    _write(task_repo, "remote", {"wh": {"integration": "SNOWFLAKE", "sensor_type": "SNOWFLAKE_QUERY",
                                        "parameters": {"statement": "select 1"}}})
    scheduler = Scheduler(service, synchronous_sensors=True)
    scheduler.evaluate(datetime(2026, 12, 7, 10, 4, tzinfo=UTC))
    (skipped,) = scheduler.evaluate(datetime(2026, 12, 7, 10, 5, tzinfo=UTC))
    assert skipped.outcome == "SKIPPED" and "wh (SNOWFLAKE_QUERY) are evaluated only by hosted Orchestra" in skipped.reason
    assert service.store.list_pipeline_runs() == []
    service.shutdown()


def _now_window() -> datetime:
    """The latest real fire time of EVERY_5_MINUTES: checks compare the window's opening with real timestamps."""
    now = datetime.now(UTC)
    return now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0)


def test_pipeline_status_and_webhook_event_checks_read_the_runners_own_store(task_repo: Path) -> None:
    service = _service(task_repo)
    (task_repo / "orchestra" / "upstream.yml").write_text(UPSTREAM)
    upstream = service.registry.find("upstream")
    _write(task_repo, "downstream", {
        "up": {"integration": "ORCHESTRA", "sensor_type": "ORCHESTRA_PIPELINE_STATUS",
               "parameters": {"pipeline_id": "upstream", "status": ["SUCCEEDED", "WARNING"]},
               "map_outputs": {"who": "${{ outputs.pipeline_run_id }}"}},
        "event": {"integration": "ORCHESTRA", "sensor_type": "ORCHESTRA_WEBHOOK_EVENT",
                  "parameters": {"event_type": "files_ready"}, "map_outputs": {"day": "${{ outputs.day }}"}},
    }, condition="${{ inputs.day != 'never' }}")
    opened = _now_window()
    scheduler = Scheduler(service, synchronous_sensors=True)
    scheduler.evaluate(opened - timedelta(seconds=30))
    assert scheduler.evaluate(opened) == []  # poll 1: no run of upstream since the window opened
    first = _ended(service, service.start(upstream.id, StartOptions()))
    assert first["run_status"] == "SUCCEEDED"
    assert scheduler.evaluate(opened + timedelta(seconds=30)) == []  # poll 2: upstream done, no event yet
    record_sensor_event(service.store, "files_ready", {"day": "never"})
    assert scheduler.evaluate(opened + timedelta(seconds=60)) == []  # poll 3: the condition is false
    record_sensor_event(service.store, "other_type", {"day": "2026-12-08"})
    record_sensor_event(service.store, "files_ready", {"day": "2026-12-07"})
    started = [r for r in scheduler.evaluate(opened + timedelta(seconds=90)) if r.outcome == "STARTED"]
    assert len(started) == 1, started
    run = _ended(service, started[0].pipeline_run_id)
    assert run["run_inputs"] == {"who": first["id"], "day": "2026-12-07"}
    service.shutdown()


def _ended(service: RunService, run_id: str) -> dict:
    service.wait(run_id, timeout=60)
    return service.store.get_pipeline_run(run_id)


def test_an_s3_file_sensor_starts_the_pipeline_when_the_object_lands(task_repo: Path, s3_endpoint: str) -> None:
    fields = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing-secret", "region_name": "us-east-1",
              "endpoint_url": s3_endpoint}
    service = _service(task_repo, {"lake": {"integration": "AWS_S3", "fields": fields}})
    s3 = boto3.client("s3", **fields)
    s3.create_bucket(Bucket="landing")
    s3.put_object(Bucket="landing", Key="elsewhere/file.csv", Body=b"id\n1\n")  # outside the prefix
    _write(task_repo, "on_file", {"file": {
        "integration": "AWS_S3", "sensor_type": "AWS_S3_FILE", "connection": "lake",
        "parameters": {"bucket_name": "landing", "file_prefix": "orders/"},
        "map_outputs": {"day": "${{ outputs.files[0] }}"}}})
    opened = _now_window()
    scheduler = Scheduler(service, synchronous_sensors=True)
    scheduler.evaluate(opened - timedelta(seconds=30))
    assert scheduler.evaluate(opened) == []  # the window opens; nothing under orders/ yet
    s3.put_object(Bucket="landing", Key="orders/2026-12-07/part-0.csv", Body=b"id\n2\n")
    (started,) = [r for r in scheduler.evaluate(opened + timedelta(seconds=30)) if r.outcome == "STARTED"]
    run = _ended(service, started.pipeline_run_id)
    assert run["run_status"] == "SUCCEEDED" and run["run_inputs"]["day"] == "orders/2026-12-07/part-0.csv"
    service.shutdown()


def test_s3_objects_modified_before_the_window_opened_do_not_pass(task_repo: Path, s3_endpoint: str) -> None:
    fields = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "endpoint_url": s3_endpoint,
              "region_name": "us-east-1"}
    s3 = boto3.client("s3", **fields)
    s3.create_bucket(Bucket="landing-old")  # moto's state is per process: a bucket of its own
    s3.put_object(Bucket="landing-old", Key="orders/old.csv", Body=b"id\n1\n")
    store = RunStore(f"sqlite:///{task_repo / 'm.sqlite'}")
    lake = Connection(name="lake", integration="AWS_S3", fields=fields)

    def check(window_start: datetime) -> CheckResult:
        return s3_file(CheckContext("sensors.s.checks.c", {"bucket_name": "landing-old", "file_prefix": "orders/"}, lake,
                                    window_start, store))

    later = check(datetime.now(UTC) + timedelta(seconds=2))
    assert not later.passed and later.detail == "1 object(s) under s3://landing-old/orders/, none modified since the window opened"
    earlier = check(datetime.now(UTC) - timedelta(minutes=1))
    assert earlier.passed and earlier.outputs == {"files": ["orders/old.csv"]}


def test_the_demo_pipelines_sensor_starts_it_after_an_orders_window_succeeded(task_repo: Path) -> None:
    demo = Path(__file__).parents[3] / "orchestra" / "tpch_marts_refresh.yml"
    (task_repo / "orchestra" / demo.name).write_text(demo.read_text())
    (task_repo / "orchestra" / "tpch_orders_window.yml").write_text(UPSTREAM.replace("name: upstream", "name: w"))
    (task_repo / "dbt").mkdir()
    service = _service(task_repo)
    now = datetime.now(UTC)
    opened = now.replace(minute=0, second=0, microsecond=0)  # the sensor's latest real window opening
    scheduler = Scheduler(service, synchronous_sensors=True)
    scheduler.evaluate(opened - timedelta(seconds=30))
    sensed = lambda results: [r for r in results if isinstance(r.trigger, SensorTrigger)]  # noqa: E731 - not the schedule
    assert sensed(scheduler.evaluate(opened)) == []  # the window opens; no orders window ended in it yet
    upstream = _ended(service, service.start(service.registry.find("tpch_orders_window").id, StartOptions()))
    assert upstream["run_status"] == "SUCCEEDED"
    (started,) = sensed(scheduler.evaluate(opened + timedelta(minutes=1)))
    assert started.outcome == "STARTED" and started.trigger.name == "orders_window_landed"
    run = service.store.get_pipeline_run(started.pipeline_run_id)
    assert run["run_inputs"] == {"upstream_run_id": upstream["id"]}
    assert run["triggered_by"][0]["sensorName"] == "An orders window landed"
    service.wait(run["id"], timeout=120)
    service.shutdown()


def test_a_source_error_is_a_finding_with_its_credentials_masked(task_repo: Path) -> None:
    lake = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1",
            "endpoint_url": f"http://lake:s3cretpw@127.0.0.1:{free_port()}"}  # nothing listens there
    service = _service(task_repo, {"lake": {"integration": "AWS_S3", "fields": lake}})
    _write(task_repo, "unreachable", {"file": {"integration": "AWS_S3", "sensor_type": "AWS_S3_FILE",
                                               "connection": "lake", "parameters": {"bucket_name": "landing"}}})
    scheduler = Scheduler(service, synchronous_sensors=True)
    scheduler.evaluate(datetime(2026, 12, 7, 10, 4, tzinfo=UTC))
    assert scheduler.evaluate(datetime(2026, 12, 7, 10, 5, tzinfo=UTC)) == []  # the poll failed: not the window
    (timed_out,) = scheduler.evaluate(datetime(2026, 12, 7, 10, 7, tzinfo=UTC))
    assert timed_out.outcome == "TIMED_OUT" and "check 'file' failed: EndpointConnectionError" in timed_out.reason
    assert "s3cretpw" not in str(list_ticks(service.store)) and "***" in timed_out.reason
    service.shutdown()


def test_an_open_window_survives_a_half_saved_file_and_ends_when_the_pipeline_is_paused(
        task_repo: Path) -> None:
    service = _service(task_repo)
    checks = {"event": {"integration": "ORCHESTRA", "sensor_type": "ORCHESTRA_WEBHOOK_EVENT",
                        "parameters": {"event_type": "never"}}}
    _write(task_repo, "waiting", checks)
    scheduler = Scheduler(service, synchronous_sensors=True)
    scheduler.evaluate(datetime(2026, 12, 7, 10, 4, tzinfo=UTC))
    assert scheduler.evaluate(datetime(2026, 12, 7, 10, 5, tzinfo=UTC)) == []  # open, polled once
    path = task_repo / "orchestra" / "waiting.yml"
    text = path.read_text()
    path.write_text(text[: len(text) // 2])  # half-saved: the file does not load this pass
    assert scheduler.evaluate(datetime(2026, 12, 7, 10, 5, 30, tzinfo=UTC)) == []  # the window is kept
    path.write_text(text.replace("pipeline:\n", "meta: {orchestra_local: {paused: true}}\npipeline:\n", 1))
    (paused,) = scheduler.evaluate(datetime(2026, 12, 7, 10, 5, 40, tzinfo=UTC))
    assert paused.outcome == "SKIPPED" and paused.reason.startswith("paused")
    assert [t["outcome"] for t in list_ticks(service.store)] == ["SKIPPED"]
    service.shutdown()


def test_a_window_of_no_minutes_fails_with_its_yaml_path(task_repo: Path) -> None:
    service = _service(task_repo)
    _write(task_repo, "instant", {"event": {"integration": "ORCHESTRA", "sensor_type": "ORCHESTRA_WEBHOOK_EVENT",
                                            "parameters": {"event_type": "x"}}})
    path = task_repo / "orchestra" / "instant.yml"
    path.write_text(path.read_text().replace("timeout_mins: 2", "timeout_mins: 0"))
    scheduler = Scheduler(service, synchronous_sensors=True)
    scheduler.evaluate(datetime(2026, 12, 7, 10, 4, tzinfo=UTC))
    (failed,) = scheduler.evaluate(datetime(2026, 12, 7, 10, 5, tzinfo=UTC))
    assert failed.outcome == "FAILED" and failed.reason.startswith("sensors.landed.timeout_mins is 0")
    service.shutdown()
