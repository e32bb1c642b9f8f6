"""The scheduler on an injected clock: due fire times start real runs once; missed, paused and broken ones are ticks."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from orchestra_local.api.service import RunService
from orchestra_local.scheduling.scheduler import Scheduler
from orchestra_local.settings import resolve_settings
from orchestra_local.store import RunStore
from orchestra_local.store.ticks import list_ticks
from orchestra_local.workspace import Workspace

START = datetime(2026, 12, 7, 10, 0, 0, 500_000, tzinfo=UTC)
EVERY_MINUTE = """
version: v1
name: {name}
inputs:
  who: {{type: string, default: nobody}}
schedule:
  - name: every minute
    cron: "0/1 * ? * * *"
    run_inputs: {{who: scheduler}}
{extra}
pipeline:
  g:
    tasks:
      say: {{integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT,
             parameters: {{project_dir: py, command: "python task.py --name ${{{{ inputs.who }}}}"}}}}
"""


def _write(repo: Path, alias: str, extra: str = "") -> None:
    (repo / "orchestra" / f"{alias}.yml").write_text(EVERY_MINUTE.format(name=alias, extra=extra))


@pytest.fixture
def service(task_repo: Path) -> Iterator[RunService]:
    settings = resolve_settings(task_repo / "orchestra", repo_root=task_repo, max_parallel=2)
    service = RunService(settings, RunStore(settings.metadata_url), Workspace.load(task_repo))
    yield service
    service.shutdown()


def _wait_all(service: RunService) -> None:
    for run in service.store.list_pipeline_runs(limit=100):
        service.wait(run["id"], timeout=60)


def test_a_due_fire_time_starts_one_run_with_the_schedules_inputs(service: RunService, task_repo: Path) -> None:
    _write(task_repo, "minutely")
    scheduler = Scheduler(service)
    assert scheduler.evaluate(START) == []  # the first start: from now, 10:00 (half a second ago) is not fired
    (result,) = scheduler.evaluate(START + timedelta(minutes=1))
    assert result.outcome == "STARTED" and result.scheduled_for == datetime(2026, 12, 7, 10, 1, tzinfo=UTC)
    _wait_all(service)
    run = service.store.get_pipeline_run(result.pipeline_run_id)
    assert run["run_status"] == "SUCCEEDED" and run["run_inputs"] == {"who": "scheduler"}
    assert run["triggered_by"] == [{"triggerType": "SCHEDULED", "scheduleName": "every minute",
                                    "scheduleCron": "0/1 * ? * * *", "scheduleTimezone": "UTC"}]
    (tick,) = list_ticks(service.store)
    assert (tick["outcome"], tick["pipeline_run_id"], tick["trigger_name"]) == ("STARTED", run["id"], "every minute")
    assert scheduler.evaluate(START + timedelta(minutes=1, seconds=20)) == []  # the same minute again: nothing


def test_a_restart_resumes_from_the_store_and_starts_nothing_twice(service: RunService, task_repo: Path) -> None:
    _write(task_repo, "minutely")
    first = Scheduler(service)
    first.evaluate(START)
    first.beat(START)
    assert [r.outcome for r in first.evaluate(START + timedelta(minutes=1))] == ["STARTED"]  # 10:01, then "killed"
    assert Scheduler(service).evaluate(START + timedelta(minutes=1, seconds=30)) == []  # restarted in the minute
    (result,) = Scheduler(service).evaluate(START + timedelta(minutes=2, seconds=20))  # from the 10:01 tick
    assert result.outcome == "STARTED" and result.scheduled_for.minute == 2
    _wait_all(service)
    assert len(service.store.list_pipeline_runs(limit=100)) == 2


def test_a_restart_before_the_first_claim_resumes_from_the_heartbeat(service: RunService, task_repo: Path) -> None:
    _write(task_repo, "minutely")
    first = Scheduler(service)
    assert first.evaluate(START + timedelta(seconds=50)) == []
    first.beat(START + timedelta(seconds=50))  # its last pass, 10:00:50; killed before 10:01
    (result,) = Scheduler(service).evaluate(START + timedelta(minutes=1, seconds=10))  # restarted at 10:01:10
    assert result.outcome == "STARTED" and result.scheduled_for.minute == 1  # no tick yet: the heartbeat says where
    restarted = Scheduler(service)
    restarted.evaluate(START + timedelta(minutes=3, seconds=10))
    _write(task_repo, "added")  # a file added while it runs starts from now, not from the heartbeat
    assert restarted.evaluate(START + timedelta(minutes=3, seconds=11)) == []
    first.heartbeat.unlink()
    (task_repo / "orchestra" / "added.yml").rename(task_repo / "orchestra" / "renamed.yml")  # a new pipeline id
    assert Scheduler(service).evaluate(START + timedelta(minutes=3, seconds=15)) == []  # no heartbeat: from now
    _wait_all(service)


def test_fire_times_missed_while_down_are_skipped_ticks_and_catch_up_last_starts_one(
        service: RunService, task_repo: Path) -> None:
    _write(task_repo, "minutely")
    first = Scheduler(service)
    first.evaluate(START)
    first.beat(START)
    results = Scheduler(service).evaluate(START + timedelta(minutes=5, seconds=30))  # down 10:00:30 .. 10:05:30
    assert [(r.scheduled_for.minute, r.outcome) for r in results] == [
        (1, "SKIPPED"), (2, "SKIPPED"), (3, "SKIPPED"), (4, "SKIPPED"), (5, "STARTED")]  # 10:05 is 30 s late
    assert "no catch-up" in results[0].reason
    caught_up = Scheduler(service, catch_up="last").evaluate(START + timedelta(minutes=9, seconds=30))
    assert [(r.scheduled_for.minute, r.outcome) for r in caught_up] == [
        (6, "SKIPPED"), (7, "SKIPPED"), (8, "STARTED"), (9, "STARTED")]
    _wait_all(service)
    assert len(service.store.list_pipeline_runs(limit=100)) == 3
    assert Counter(tick["outcome"] for tick in list_ticks(service.store)) == {"SKIPPED": 6, "STARTED": 3}


def test_racing_schedulers_start_each_fire_time_once(service: RunService, task_repo: Path) -> None:
    _write(task_repo, "minutely")
    schedulers = [Scheduler(service) for _ in range(4)]
    barrier, outcomes = threading.Barrier(len(schedulers)), []

    for scheduler in schedulers:
        scheduler.evaluate(START)

    def evaluate(scheduler: Scheduler) -> None:
        barrier.wait()
        outcomes.extend(result.outcome for result in scheduler.evaluate(START + timedelta(minutes=1)))

    threads = [threading.Thread(target=evaluate, args=(scheduler,)) for scheduler in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    _wait_all(service)
    # None: found claimed by another scheduler; a scheduler that read the claim first reports nothing
    assert outcomes.count("STARTED") == 1 and set(outcomes) <= {"STARTED", None}
    assert len(service.store.list_pipeline_runs(limit=100)) == 1


def test_paused_invalid_and_unschedulable_files(service: RunService, task_repo: Path, caplog) -> None:
    _write(task_repo, "paused", extra="meta: {orchestra_local: {paused: true}}")
    _write(task_repo, "good")
    (task_repo / "orchestra" / "broken.yml").write_text("version: v1\nname: [\n")
    _write(task_repo, "bad_zone")
    path = task_repo / "orchestra" / "bad_zone.yml"
    path.write_text(path.read_text().replace('cron: "0/1 * ? * * *"', 'cron: "0/1 * ? * * *"\n    timezone: Mars/Base'))
    scheduler = Scheduler(service)
    with caplog.at_level(logging.WARNING, logger="orchestra_local.scheduling.scheduler"):
        scheduler.evaluate(START)
        results = scheduler.evaluate(START + timedelta(minutes=1))
        scheduler.evaluate(START + timedelta(minutes=1, seconds=1))
    assert {(r.trigger.pipeline.alias, r.outcome) for r in results} == {("paused", "SKIPPED"), ("good", "STARTED")}
    assert "paused" in next(r.reason for r in results if r.trigger.pipeline.alias == "paused")
    warnings = [record.getMessage() for record in caplog.records]
    assert sum("orchestra/broken.yml: not scheduled" in message for message in warnings) == 1  # logged once
    assert sum("unknown time zone 'Mars/Base'" in message for message in warnings) == 1
    _wait_all(service)


def test_a_schedule_that_fails_to_evaluate_does_not_stop_the_others(service: RunService, task_repo: Path,
                                                                    monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    _write(task_repo, "bad")
    _write(task_repo, "good")
    start = service.start

    def flaky_start(pipeline_id: str, options):  # noqa: ANN001 - the service's signature
        if service.registry.find(pipeline_id).alias == "bad":
            raise RuntimeError("store on fire")
        return start(pipeline_id, options)

    monkeypatch.setattr(service, "start", flaky_start)
    scheduler = Scheduler(service)
    scheduler.evaluate(START)
    with caplog.at_level(logging.ERROR, logger="orchestra_local.scheduling.scheduler"):
        results = scheduler.evaluate(START + timedelta(minutes=1))
    assert [(r.trigger.pipeline.alias, r.outcome) for r in results] == [("good", "STARTED")]
    assert "schedule 'every minute': evaluation failed" in caplog.text and "store on fire" in caplog.text
    _wait_all(service)
