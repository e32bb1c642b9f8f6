"""ORCHESTRA/APPROVAL through the real CLI: the run waits until another process approves or rejects."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from textwrap import dedent

import pytest

from orchestra_local.store import RunStore

pytestmark = pytest.mark.e2e

PIPELINE = """
version: v1
name: gated
pipeline:
  gate:
    tasks:
      approve_release: {integration: ORCHESTRA, integration_job: APPROVAL,
                        parameters: {message: Ship it?, approvers: [lead@example.com]}}
  release:
    depends_on: [gate]
    tasks:
      publish: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, parameters: {command: python -V}}
"""


def waiting_task_run(store_url: str, process: subprocess.Popen[str]) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0]
        store = RunStore(store_url)
        for run in store.list_pipeline_runs(limit=1):
            for task_run in store.list_task_runs(run["id"]):
                if task_run["external_status"] == "WAITING_FOR_APPROVAL":
                    return task_run["id"]
        time.sleep(0.1)
    raise AssertionError("the approval task never started waiting")


@pytest.mark.parametrize(("decision", "exit_code", "publish"), [([], 0, "SUCCEEDED"), (["--reject"], 1, "SKIPPED")],
                         ids=["approved", "rejected"])
def test_a_run_waits_for_the_decision(cli, cli_path: str, repo: Path, decision: list[str], exit_code: int,
                                      publish: str) -> None:
    path = repo / "orchestra" / "gated.yml"
    path.write_text(dedent(PIPELINE))
    store_url = f"sqlite:///{Path(os.environ['ORCHESTRA_LOCAL_HOME']) / 'metadata.db'}"
    process = subprocess.Popen([cli_path, "run", str(path), "--no-progress"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    task_run_id = waiting_task_run(store_url, process)
    assert process.poll() is None  # still waiting
    answer = cli("approve", task_run_id, *decision, "--message", "checked by test", cwd=repo)
    assert answer.returncode == 0, answer.stderr
    output, _ = process.communicate(timeout=60)
    assert process.returncode == exit_code, output
    store = RunStore(store_url)
    run = store.list_pipeline_runs(limit=1)[0]
    statuses = {t["task_id"]: (t["status"], t["message"]) for t in store.list_task_runs(run["id"])}
    assert statuses["publish"][0] == publish
    assert statuses["approve_release"][1].endswith("checked by test")
    again = cli("approve", task_run_id, cwd=repo)
    assert again.returncode == 2 and "is not waiting for approval" in again.stderr
