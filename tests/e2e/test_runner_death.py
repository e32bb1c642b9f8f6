"""A runner killed mid-task (SIGKILL) or hung up (SIGHUP), as `orchestra-local run` and as `serve`.

Each case, three times: no task process survives it (its grandchild included: the task is a shell
command that runs python as a child), `orchestra-local cancel` ends the run, `--retry-from-failed`
completes it, and the append pipeline ends with exactly one load per task.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent

import psutil
import pytest

from orchestra_local.store import RunStore

APPEND = """
import os, pathlib, sqlite3, sys, time
db, row, delay_file = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
pathlib.Path(db).with_name(f"started-{row}").write_text(str(os.getpid()))
time.sleep(float(delay_file.read_text()))  # long on the first run (killed here), 0 on the retry
with sqlite3.connect(db) as connection:
    connection.execute("create table if not exists loads (row text)")
    connection.execute("insert into loads values (?)", (row,))
"""

PIPELINE = """
version: v1
name: append
pipeline:
  first:
    tasks:
      load_a: {{integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT,
               parameters: {{command: "python {script} {db} a {delay} && echo loaded a"}}}}
  second:
    depends_on: [first]
    tasks:
      load_b: {{integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT,
               parameters: {{command: "python {script} {db} b {delay} && echo loaded b"}}}}
"""

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SLOW_SECONDS = 4.0
REPEATS = int(os.environ.get("RUNNER_DEATH_REPEATS", "1"))
"""Runs of each (runner, signal) case; a stress run sets RUNNER_DEATH_REPEATS=20 (the suite: 1)."""
"""How long load_b sleeps before its load on the first run: an orphan would load within it."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Setup:
    def __init__(self, repo: Path, tmp_path: Path, cli_path: str):
        self.repo, self.cli = repo, cli_path
        self.db = tmp_path / "warehouse.sqlite"
        self.delay = tmp_path / "delay"
        script = tmp_path / "append.py"
        script.write_text(APPEND)
        self.pipeline = repo / "orchestra" / "append.yml"
        self.pipeline.write_text(dedent(PIPELINE).format(script=script, db=self.db,
                                                         delay=self.delay))
        self.store = RunStore(f"sqlite:///{os.environ['ORCHESTRA_LOCAL_HOME']}/metadata.db")

    def run_cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.cli, *args], cwd=self.repo, capture_output=True, text=True, timeout=timeout)

    def loads(self) -> list[str]:
        with sqlite3.connect(self.db) as connection:
            return sorted(row for (row,) in connection.execute("select row from loads"))

    def wait_for_start(self, runner: subprocess.Popen[str], row: str) -> int:
        marker = self.db.with_name(f"started-{row}")
        deadline = time.monotonic() + 60
        while not (marker.exists() and marker.read_text()):
            assert runner.poll() is None and time.monotonic() < deadline, f"load_{row} never started"
            time.sleep(0.05)
        return int(marker.read_text())

    def task_processes(self) -> list[psutil.Process]:
        """Every live process running our script (the tasks and their shells)."""
        found = []
        for process in psutil.process_iter(["cmdline", "status"]):
            cmdline = " ".join(process.info["cmdline"] or [])
            if str(self.delay) in cmdline and process.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(process)
        return found

    def assert_no_task_survives(self, within: float = 5.0) -> None:
        deadline = time.monotonic() + within
        while self.task_processes() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not self.task_processes(), [p.info["cmdline"] for p in self.task_processes()]


@pytest.fixture
def setup(repo: Path, tmp_path: Path, cli_path: str) -> Iterator[Setup]:
    prepared = Setup(repo, tmp_path, cli_path)
    prepared.delay.write_text(str(SLOW_SECONDS))
    yield prepared
    for process in prepared.task_processes():  # never leave one behind, even when a test fails
        process.kill()
    prepared.store.close()


def _serve(setup: Setup) -> tuple[subprocess.Popen[str], int]:
    port = _free_port()
    server = subprocess.Popen([setup.cli, "serve", "--port", str(port), "--repo-root", str(setup.repo)],
                              cwd=setup.repo, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
                              env={**os.environ, "ORCHESTRA_LOCAL_API_TOKEN": "death-test-token"})
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server, port
        except OSError:
            assert server.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)


def _start_cli_run(setup: Setup, row: str = "b") -> tuple[subprocess.Popen[str], str]:
    runner = subprocess.Popen([setup.cli, "run", str(setup.pipeline), "--no-progress"], cwd=setup.repo,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    setup.wait_for_start(runner, row)
    return runner, setup.store.list_pipeline_runs(limit=1)[0]["id"]


def _start_serve_run(setup: Setup, row: str = "b") -> tuple[subprocess.Popen[str], str]:
    runner, port = _serve(setup)
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/engine/public/pipelines/append/start", data=b"{}", method="POST",
        headers={"Authorization": "Bearer death-test-token", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        run_id = json.loads(response.read())["pipelineRunId"]
    setup.wait_for_start(runner, row)
    return runner, run_id


@pytest.mark.parametrize("repeat", range(1, REPEATS + 1))
@pytest.mark.parametrize("how", ["SIGKILL", "SIGHUP"])
@pytest.mark.parametrize("runner_kind", ["run", "serve"])
def test_a_dead_runner_leaves_no_task_running_and_its_run_can_be_retried(
    setup: Setup, runner_kind: str, how: str, repeat: int
) -> None:
    runner, run_id = (_start_cli_run if runner_kind == "run" else _start_serve_run)(setup)
    killed_at = time.monotonic()
    runner.send_signal(getattr(signal, how))
    runner.wait(timeout=60)
    setup.assert_no_task_survives()

    run = setup.store.get_pipeline_run(run_id)
    if how == "SIGHUP":  # handled like Ctrl-C: the runner itself recorded CANCELLED
        assert run["run_status"] == "CANCELLED", run
    else:  # SIGKILL: nothing ran in the runner; `cancel` finds it dead and clears the run
        assert run["run_status"] == "RUNNING"
        cancelled = setup.run_cli("cancel", run_id)
        assert cancelled.returncode == 0 and "marked CANCELLED" in cancelled.stdout, cancelled
    statuses = {t["task_id"]: t["status"] for t in setup.store.list_task_runs(run_id)}
    assert statuses == {"load_a": "SUCCEEDED", "load_b": "CANCELLED"}, statuses
    assert not setup.store.open_task_processes(run_id)

    # an orphaned load_b would have loaded by now; then the retry loads b exactly once
    time.sleep(max(0.0, SLOW_SECONDS + 0.5 - (time.monotonic() - killed_at)))
    assert setup.loads() == ["a"]
    setup.delay.write_text("0")
    retried = setup.run_cli("run", str(setup.pipeline), "--no-progress", "--retry-from-failed", run_id)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert setup.loads() == ["a", "b"]


def test_the_api_cancels_a_run_of_the_cli_and_answers_204_once_it_ended(setup: Setup) -> None:
    setup.delay.write_text("60")
    runner, run_id = _start_cli_run(setup, "a")
    server, port = _serve(setup)
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/engine/public/pipeline_runs/{run_id}/cancel", data=b"{}", method="POST",
            headers={"Authorization": "Bearer death-test-token", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.status == 204
        assert setup.store.get_pipeline_run(run_id)["run_status"] == "CANCELLED"  # ended before the answer
        assert runner.wait(timeout=30) == 1
        setup.assert_no_task_survives()
    finally:
        server.terminate()
        server.wait(timeout=60)


def test_the_cli_cancels_a_run_of_a_live_server(setup: Setup) -> None:
    setup.delay.write_text("60")
    server, run_id = _start_serve_run(setup, "a")
    try:
        cancelled = setup.run_cli("cancel", run_id)
        assert cancelled.returncode == 0 and "cancelled the run: CANCELLED" in cancelled.stdout, cancelled
        setup.assert_no_task_survives()
        assert server.poll() is None
    finally:
        server.terminate()
        server.wait(timeout=60)


def test_the_api_clears_a_run_whose_runner_was_killed(setup: Setup) -> None:
    setup.delay.write_text("60")
    runner, run_id = _start_cli_run(setup, "a")
    runner.kill()
    runner.wait(timeout=30)
    server, port = _serve(setup)
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/engine/public/pipeline_runs/{run_id}/cancel", data=b"{}", method="POST",
            headers={"Authorization": "Bearer death-test-token", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.status == 204
        run = setup.store.get_pipeline_run(run_id)
        assert run["run_status"] == "CANCELLED" and "runner process is gone" in run["message"]
        assert not setup.store.open_task_processes(run_id)
        setup.assert_no_task_survives()
    finally:
        server.terminate()
        server.wait(timeout=60)
