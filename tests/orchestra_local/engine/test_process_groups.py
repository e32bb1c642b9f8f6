"""A recorded pid is signalled only while it is still the recorded process (pid + start time)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from orchestra_local.engine.process_groups import kill_groups, live_groups, runner_alive
from orchestra_local.engine.runner import RunRequest, prepare_run
from orchestra_local.engine.stale import cancel_run
from orchestra_local.errors import InvalidInputError, StoreError
from orchestra_local.settings import resolve_settings
from orchestra_local.spec.loader import load_file
from orchestra_local.store import RunStore, new_id


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    opened = RunStore(f"sqlite:///{tmp_path / 'metadata.db'}")
    yield opened
    opened.close()


@pytest.fixture
def unrelated() -> Iterator[psutil.Process]:
    """A process nobody recorded (its own session, as a task's would be)."""
    popen = subprocess.Popen(["sleep", "60"], start_new_session=True)
    yield psutil.Process(popen.pid)
    popen.kill()
    popen.wait()


def _run(store: RunStore, runner: dict | None = None) -> str:
    run_id = new_id()
    store.create_pipeline_run(id=run_id, pipeline_id=new_id(), pipeline_name="p", pipeline_alias="p",
                              yaml_path="orchestra/p.yml", run_status="RUNNING", data={"runner": runner or {}})
    return run_id


def _record(store: RunStore, run_id: str, pgid: int, create_time: float) -> None:
    store.add_task_process(pipeline_run_id=run_id, task_run_id=None, attempt=1, host=socket.gethostname(),
                           pgid=pgid, create_time=create_time)


def test_a_group_whose_recorded_start_time_differs_is_never_signalled(store: RunStore, unrelated) -> None:
    run_id = _run(store)
    _record(store, run_id, unrelated.pid, unrelated.create_time() - 100)  # an earlier process had that pid
    assert live_groups(store, run_id) == []
    assert kill_groups(store, store.open_task_processes(run_id), grace=0.5) == 0
    time.sleep(0.2)
    assert unrelated.is_running() and unrelated.status() != psutil.STATUS_ZOMBIE


def test_a_group_whose_start_time_matches_is_killed(store: RunStore, unrelated) -> None:
    run_id = _run(store)
    _record(store, run_id, unrelated.pid, unrelated.create_time())
    assert [r["pgid"] for r in live_groups(store, run_id)] == [unrelated.pid]
    assert kill_groups(store, store.open_task_processes(run_id), grace=0.5) == 1
    assert unrelated.wait(timeout=5) is not None or not unrelated.is_running()
    assert store.open_task_processes(run_id) == []


def test_the_rest_of_a_group_whose_leader_exited_is_killed(store: RunStore, tmp_path: Path) -> None:
    pidfile = tmp_path / "child"
    leader = subprocess.Popen(["sh", "-c", f"sleep 60 & echo $! > {pidfile}; exit 0"], start_new_session=True)
    created = psutil.Process(leader.pid).create_time()
    leader.wait()
    deadline = time.monotonic() + 5
    while not (pidfile.exists() and pidfile.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.02)
    orphan = psutil.Process(int(pidfile.read_text()))
    run_id = _run(store)
    _record(store, run_id, leader.pid, created)
    assert kill_groups(store, store.open_task_processes(run_id), grace=0.5) == 1
    deadline = time.monotonic() + 5
    while orphan.is_running() and orphan.status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not orphan.is_running() or orphan.status() == psutil.STATUS_ZOMBIE


def test_a_runner_pid_reused_by_another_process_is_dead_and_never_signalled(store: RunStore, unrelated) -> None:
    runner = {"pid": unrelated.pid, "host": socket.gethostname(), "kind": "cli",
              "started": unrelated.create_time() - 100}
    assert not runner_alive(runner)
    run_id = _run(store, runner)
    outcome = cancel_run(store, run_id, wait_seconds=1)
    assert outcome.ended and outcome.status == "CANCELLED" and "is gone" in outcome.message
    time.sleep(0.2)
    assert unrelated.is_running() and unrelated.status() != psutil.STATUS_ZOMBIE  # no SIGTERM reached it
    assert runner_alive({**runner, "started": unrelated.create_time()})


def test_a_zombie_runner_is_not_alive() -> None:
    child = subprocess.Popen(["true"])
    process = psutil.Process(child.pid)
    deadline = time.monotonic() + 5
    while process.status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.02)
    runner = {"pid": child.pid, "host": socket.gethostname(), "started": process.create_time()}
    assert not runner_alive(runner)  # exited, not yet reaped: `kill -0` would call it alive
    child.wait()


def test_a_retry_waits_until_no_earlier_attempt_runs(run_pipeline, task_repo: Path, unrelated) -> None:
    finished = run_pipeline("""
        version: v1
        name: retried
        pipeline:
          work:
            tasks:
              fails: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT,
                      parameters: {project_dir: py, command: 'python task.py --exit 3'}}
        """)
    assert finished.status == "FAILED"
    task_run = finished.task_runs()[0]
    # as if the attempt's process group had outlived its runner
    finished.store.add_task_process(pipeline_run_id=finished.run_id, task_run_id=task_run["id"], attempt=1,
                                    host=socket.gethostname(), pgid=unrelated.pid, create_time=unrelated.create_time())
    loaded = load_file(task_repo / "orchestra" / "p.yml")
    settings = resolve_settings(loaded.path)
    request = RunRequest(retry_from_failed=finished.run_id)
    with pytest.raises(InvalidInputError, match=rf"still has running processes: task run {task_run['id']} attempt 1 "
                                                rf"\(process group {unrelated.pid}\).*orchestra-local cancel"):
        prepare_run(loaded, request, settings=settings, store=finished.store)
    kill_groups(finished.store, finished.store.open_task_processes(finished.run_id), grace=0.5)
    retry = prepare_run(loaded, request, settings=settings, store=finished.store)
    assert retry.pipeline_run_id != finished.run_id


def test_a_process_end_is_written_with_the_next_write_and_kept_when_that_write_fails(store: RunStore) -> None:
    run_id = _run(store)
    task_run = new_id()
    store.create_task_runs([{"id": task_run, "pipeline_run_id": run_id, "pipeline_id": "p", "group_id": "g",
                             "task_id": "t", "task_name": "t", "integration": "PYTHON",
                             "integration_job": "PYTHON_EXECUTE_SCRIPT", "position": 0}])
    _record(store, run_id, 1_000_001, 1.0)
    row = store.open_task_processes(run_id)[0]["id"]
    store.end_task_process_later(row)
    store.add_file(task_run, "log", "1/command.log", "/tmp/command.log", 1, defer=True)
    assert [r["id"] for r in store.open_task_processes(run_id)] == [row]  # deferred: not written yet
    assert store.list_files(task_run, "log") == []
    with pytest.raises(StoreError):  # a failing write rolls back, and the end waits for the next one
        store.create_pipeline_run(id=run_id, pipeline_id=new_id(), pipeline_name="p", pipeline_alias="p",
                                  yaml_path="orchestra/p.yml")
    assert [r["id"] for r in store.open_task_processes(run_id)] == [row]
    store.update_pipeline_run(run_id, message="next write")
    assert store.open_task_processes(run_id) == []
    assert [f["filename"] for f in store.list_files(task_run, "log")] == ["1/command.log"]
    _record(store, run_id, 1_000_002, 2.0)
    store.end_task_process_later(store.open_task_processes(run_id)[0]["id"])
    store.close()  # closing writes what is deferred
    assert RunStore(str(store.engine.url)).open_task_processes(run_id) == []
