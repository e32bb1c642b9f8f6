"""Trigger events on real runs: B starts after A succeeded and not after A failed; a loop is bounded and reported."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from orchestra_local.api.service import RunService, StartOptions
from orchestra_local.scheduling import trigger_events
from orchestra_local.scheduling.scheduler import Scheduler
from orchestra_local.settings import resolve_settings
from orchestra_local.store import RunStore, utcnow
from orchestra_local.store.ticks import list_ticks
from orchestra_local.workspace import Workspace

PIPELINE = """
version: v1
name: {alias}
inputs:
  fail: {{type: string, default: "0"}}
{triggers}
pipeline:
  g:
    tasks:
      work_{alias}: {{integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT,
                      parameters: {{project_dir: py, command: "python task.py --name {alias} --exit ${{{{ inputs.fail }}}}"}}}}
"""


@pytest.fixture
def service(task_repo: Path) -> Iterator[RunService]:
    settings = resolve_settings(task_repo / "orchestra", repo_root=task_repo, max_parallel=2)
    service = RunService(settings, RunStore(settings.metadata_url), Workspace.load(task_repo))
    yield service
    service.shutdown()


def _write(repo: Path, alias: str, triggers: str = "") -> None:
    (repo / "orchestra" / f"{alias}.yml").write_text(PIPELINE.format(alias=alias, triggers=triggers))


def _on(service: RunService, alias: str, statuses: str = "") -> str:
    pipeline_id = service.registry.find(alias).id
    return f"trigger_events:\n  - {{type: pipeline, pipeline_id: {pipeline_id}{statuses}}}"


def _run(service: RunService, alias: str, fail: str = "0") -> dict:
    run_id = service.start(alias, StartOptions(run_inputs={"fail": fail}))
    service.wait(run_id, timeout=60)
    return service.store.get_pipeline_run(run_id)


def _runs_of(service: RunService, alias: str) -> list[dict]:
    return [run for run in service.store.list_pipeline_runs(limit=100) if run["pipeline_alias"] == alias]


def test_b_starts_after_a_succeeded_and_not_after_a_failed(service: RunService, task_repo: Path) -> None:
    _write(task_repo, "a")
    _write(task_repo, "b", _on(service, "a"))
    _write(task_repo, "on_failure", _on(service, "a", ", statuses: [FAILED]"))
    scheduler = Scheduler(service)
    scheduler.evaluate()
    succeeded = _run(service, "a")
    (started,) = [r for r in scheduler.evaluate(utcnow()) if r.outcome is not None]
    assert started.trigger.pipeline.alias == "b" and started.outcome == "STARTED"
    service.wait(started.pipeline_run_id, timeout=60)
    b_run = service.store.get_pipeline_run(started.pipeline_run_id)
    assert b_run["run_status"] == "SUCCEEDED"
    assert b_run["triggered_by"] == [{"triggerType": "TRIGGER_EVENT", "pipelineId": succeeded["pipeline_id"],
                                      "pipelineRunId": succeeded["id"], "pipelineName": "a", "wildcardParent": False}]
    assert scheduler.evaluate(utcnow()) == []  # b's own end triggers nothing; a's end is not read twice

    failed = _run(service, "a", fail="3")
    assert failed["run_status"] == "FAILED"
    results = [r for r in scheduler.evaluate(utcnow()) if r.outcome is not None]
    assert [(r.trigger.pipeline.alias, r.outcome) for r in results] == [("on_failure", "STARTED")]
    service.wait(results[0].pipeline_run_id, timeout=60)
    assert len(_runs_of(service, "b")) == 1 and len(_runs_of(service, "on_failure")) == 1
    assert {tick["trigger_name"] for tick in list_ticks(service.store)} == {succeeded["id"], failed["id"]}


def test_two_schedulers_start_the_downstream_run_once(service: RunService, task_repo: Path) -> None:
    _write(task_repo, "a")
    _write(task_repo, "b", _on(service, "a"))
    schedulers = [Scheduler(service) for _ in range(3)]
    for scheduler in schedulers:
        scheduler.evaluate()
    _run(service, "a")
    now, barrier, outcomes = utcnow(), threading.Barrier(3), []

    def evaluate(scheduler: Scheduler) -> None:
        barrier.wait()
        outcomes.extend(result.outcome for result in scheduler.evaluate(now))

    threads = [threading.Thread(target=evaluate, args=(scheduler,)) for scheduler in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert outcomes.count("STARTED") == 1 and set(outcomes) <= {"STARTED", None}
    for run in _runs_of(service, "b"):
        service.wait(run["id"], timeout=60)
    assert len(_runs_of(service, "b")) == 1


def test_a_trigger_loop_is_bounded_and_reported(service: RunService, task_repo: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trigger_events, "MAX_TRIGGER_CHAIN", 4)
    monkeypatch.setattr("orchestra_local.scheduling.scheduler.MAX_TRIGGER_CHAIN", 4)
    _write(task_repo, "ping")
    _write(task_repo, "pong", _on(service, "ping"))
    _write(task_repo, "ping", _on(service, "pong"))  # ping <-> pong
    scheduler = Scheduler(service)
    scheduler.evaluate()
    _run(service, "ping")
    skipped = []
    for _ in range(8):
        for result in scheduler.evaluate(utcnow() + timedelta(milliseconds=1)):
            if result.outcome == "STARTED":
                service.wait(result.pipeline_run_id, timeout=60)
            elif result.outcome == "SKIPPED":
                skipped.append(result)
    assert len(_runs_of(service, "ping")) + len(_runs_of(service, "pong")) == 4  # the chain's bound
    (stopped,) = skipped
    assert stopped.reason.startswith("trigger loop: ping -> pong -> ping -> pong -> ping")
    assert [tick["outcome"] for tick in list_ticks(service.store)][0] == "SKIPPED"


def test_an_upstream_end_from_before_the_scheduler_ran_is_missed_not_started(service: RunService,
                                                                              task_repo: Path) -> None:
    _write(task_repo, "a")
    _write(task_repo, "b", _on(service, "a"))
    first = Scheduler(service)
    first.evaluate()
    ended = _run(service, "a")
    first.beat(utcnow())  # the previous process's last pass: it had not read a's end yet
    (result,) = Scheduler(service).evaluate(ended["completed_at"] + timedelta(minutes=5))  # restarted 5 min later
    assert result.outcome == "SKIPPED" and "ended while the scheduler was not running" in result.reason
    assert _runs_of(service, "b") == []


def test_run_inputs_map_the_upstream_run(service: RunService, task_repo: Path) -> None:
    _write(task_repo, "a")
    upstream_id = service.registry.find("a").id
    (task_repo / "orchestra" / "b.yml").write_text(f"""
version: v1
name: b
inputs:
  parent: {{type: dict, default: {{}}}}
  parent_id: {{type: string, default: none}}
trigger_events:
  - type: pipeline
    pipeline_id: {upstream_id}
    run_inputs:
      parent: ${{{{ outputs.pipeline_run }}}}
      parent_id: ${{{{ outputs.pipeline_run["pipeline_run_id"] }}}}
pipeline:
  g:
    tasks:
      echo: {{integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT,
              parameters: {{project_dir: py, command: "python task.py --name ${{{{ inputs.parent_id }}}}"}}}}
""")
    scheduler = Scheduler(service)
    scheduler.evaluate()
    upstream = _run(service, "a")
    (started,) = [r for r in scheduler.evaluate(utcnow()) if r.outcome is not None]
    assert started.outcome == "STARTED", started.reason
    service.wait(started.pipeline_run_id, timeout=60)
    run = service.store.get_pipeline_run(started.pipeline_run_id)
    assert run["run_status"] == "SUCCEEDED"
    assert run["run_inputs"]["parent_id"] == upstream["id"]
    parent = run["run_inputs"]["parent"]
    assert parent["pipeline_run_id"] == upstream["id"] and parent["status"] == "SUCCEEDED"
    assert parent["pipeline_name"] == "a" and parent["completed_at"] == upstream["completed_at"].isoformat()
