"""An error escaping the executor (here: the metadata store refusing a write) ends the run FAILED.

The failure is real: a task installs a trigger in the metadata SQLite database that aborts every
update recording a task SUCCEEDED, as a full disk or a broken database would. The runner's own
write then fails outside any task, in the executor; the supervisor terminates the other running
task, ends the run FAILED with the reason, and the CLI prints one line (exit 1); under `serve` the
run ends FAILED and is listed, and the server keeps serving.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from textwrap import dedent

import psutil
import pytest

from orchestra_local.store import RunStore

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BREAK_STORE = """
import os, sqlite3, sys, time
while not os.path.exists(sys.argv[2]):  # the sleeper runs first, so there is a task to terminate
    time.sleep(0.05)
with sqlite3.connect(sys.argv[1], timeout=30) as connection:
    connection.execute(
        "create trigger refuse_success before update of status on task_runs when new.status = 'SUCCEEDED' "
        "begin select raise(abort, 'simulated: the metadata disk is full'); end")
"""

SLEEP = """
import os, sys, time
open(sys.argv[1], "w").write(str(os.getpid()))
time.sleep(120)
"""

PIPELINE = """
version: v1
name: broken_store
pipeline:
  work:
    tasks:
      break_store: {{integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT,
                    parameters: {{command: "python {break_store} {metadata} {pidfile}"}}}}
      sleeper: {{integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT,
                parameters: {{command: "python {sleep} {pidfile}"}}}}
"""


@pytest.fixture
def broken(repo: Path, tmp_path: Path) -> tuple[Path, Path, RunStore]:
    """The pipeline file, the sleeper's pid file, and the store."""
    metadata = Path(os.environ["ORCHESTRA_LOCAL_HOME"]) / "metadata.db"
    (tmp_path / "break_store.py").write_text(BREAK_STORE)
    (tmp_path / "sleep.py").write_text(SLEEP)
    pidfile = tmp_path / "sleeper.pid"
    path = repo / "orchestra" / "broken_store.yml"
    path.write_text(dedent(PIPELINE).format(break_store=tmp_path / "break_store.py", metadata=metadata,
                                            sleep=tmp_path / "sleep.py", pidfile=pidfile))
    store = RunStore(f"sqlite:///{metadata}")
    return path, pidfile, store


def _assert_failed_and_nothing_runs(store: RunStore, run: dict, pidfile: Path) -> None:
    assert run["run_status"] == "FAILED", run
    assert "runner error: StoreError" in run["message"] and "metadata disk is full" in run["message"]
    assert run["completed_at"] is not None
    statuses = {t["task_id"]: t["status"] for t in store.list_task_runs(run["id"])}
    assert statuses == {"break_store": "FAILED", "sleeper": "FAILED"}, statuses
    deadline = time.monotonic() + 10
    while psutil.pid_exists(int(pidfile.read_text())) and time.monotonic() < deadline:
        time.sleep(0.05)
    process = psutil.Process(int(pidfile.read_text())) if psutil.pid_exists(int(pidfile.read_text())) else None
    assert process is None or process.status() == psutil.STATUS_ZOMBIE


def test_cli_run_whose_executor_fails_ends_failed_with_one_line(cli, repo: Path, broken) -> None:
    path, pidfile, store = broken
    result = cli("run", str(path), "--no-progress", "--max-parallel", "2", cwd=repo, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("Error: pipeline run "), result.stderr
    assert "runner error: StoreError" in errors[0] and "recorded FAILED" in errors[0]
    assert "Traceback" not in result.stdout + result.stderr
    _assert_failed_and_nothing_runs(store, store.list_pipeline_runs(limit=1)[0], pidfile)


def test_serve_run_whose_executor_fails_ends_failed_and_is_listed(cli_path: str, repo: Path, broken) -> None:
    path, pidfile, store = broken
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}/api/engine/public"
    headers = {"Authorization": "Bearer error-test-token", "Content-Type": "application/json"}
    server = subprocess.Popen([cli_path, "serve", "--port", str(port), "--repo-root", str(repo), "--max-parallel", "2"],
                              cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "ORCHESTRA_LOCAL_API_TOKEN": "error-test-token"})

    def call(method: str, url: str, body: bytes | None = None) -> dict:
        request = urllib.request.Request(base + url, data=body, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                run_id = call("POST", f"/pipelines/{path.stem}/start", b"{}")["pipelineRunId"]
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "serve did not start"
                time.sleep(0.1)
        deadline = time.monotonic() + 60
        while (status := call("GET", f"/pipeline_runs/{run_id}/status")["runStatus"]) not in ("FAILED", "SUCCEEDED"):
            assert time.monotonic() < deadline, f"the run is still {status}"
            time.sleep(0.1)
        listed = call("GET", f"/pipeline_runs?pipeline_run_ids={run_id}")["results"]
        assert [r["runStatus"] for r in listed] == ["FAILED"]
        assert server.poll() is None  # the server keeps serving
        _assert_failed_and_nothing_runs(store, store.get_pipeline_run(run_id), pidfile)
    finally:
        server.terminate()
        _out, err = server.communicate(timeout=60)
    assert "Traceback" not in err, err
