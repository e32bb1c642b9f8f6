"""The two injection shapes the audit found, end to end through the real CLI and through the API.

1. Command substitution: ``command: python argv.py subst "$(printf %s ${{ inputs.x }})"`` ran
   ``x; touch ...`` because the text inside ``"$( )"`` was quoted as if double-quoted.
2. ``environment_variables: '{"VALUE": "${{ inputs.x }}"}'`` was substituted before JSON parsing,
   so ``", "INJECTED": "yes`` added a variable to the task.

Also through the API: ``environmentOverrides`` reach ``${{ ENV.X }}``, which used to be spliced
unquoted. Each check: no marker file was created, no variable was added, and the child process
received the literal value.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from orchestra_local.api.app import PREFIX, ApiSettings, create_app
from orchestra_local.settings import resolve_settings
from orchestra_local.workspace import Workspace

CLI = str(Path(sys.executable).with_name("orchestra-local"))
TOKEN = "injection-test-token-0123456789"
ARGV_SCRIPT = """
import json, os, sys
name = sys.argv[1]
seen = {"argv": sys.argv[2:], "VALUE": os.environ.get("VALUE"), "INJECTED": os.environ.get("INJECTED")}
with open(f"out-{name}.json", "w", encoding="utf-8") as out:
    json.dump(seen, out)
"""
PIPELINE = """
version: v1
name: injection
inputs:
  x: {type: string}
pipeline:
  g:
    tasks:
      subst:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        parameters:
          command: python argv.py subst "$(printf %s ${{ inputs.x }})"
          project_dir: py
      env:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        parameters:
          command: python argv.py env
          project_dir: py
          environment_variables: '{"VALUE": "${{ inputs.x }}"}'
"""
ENV_TASK = """
      from_env:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        parameters:
          command: python argv.py from_env ${{ ENV.EXTRA }} "$(printf %s ${{ ENV.EXTRA }})"
          project_dir: py
"""


def payload(marker: Path) -> str:
    """A value that runs ``touch marker`` or adds ``INJECTED`` if it is ever read as syntax."""
    return f'x; touch {marker}; $(touch {marker}) `touch {marker}` | touch {marker} "; touch {marker}", "INJECTED": "yes'


def write_repo(repo: Path, with_env_task: bool = False) -> Path:
    (repo / "py").mkdir(exist_ok=True)
    (repo / "py" / "argv.py").write_text(ARGV_SCRIPT)
    path = repo / "orchestra" / "injection.yml"
    path.write_text(PIPELINE.lstrip() + (ENV_TASK.lstrip("\n") if with_env_task else ""))
    return path


def seen(repo: Path, name: str) -> dict[str, Any]:
    return json.loads((repo / "py" / f"out-{name}.json").read_text(encoding="utf-8"))


def assert_received_as_data(repo: Path, value: str, marker: Path) -> None:
    assert not marker.exists(), "the payload ran a command"
    stray = {p.name for p in (repo / "py").iterdir()} - {"argv.py", "task.py", "__pycache__"}
    assert all(name.startswith("out-") for name in stray), f"the payload created files: {stray}"
    assert seen(repo, "subst")["argv"] == [value]
    env = seen(repo, "env")
    assert env["VALUE"] == value and env["INJECTED"] is None


@pytest.mark.e2e
def test_cli_input_reaches_the_child_as_data(repo: Path, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    value = payload(marker)
    path = write_repo(repo)
    done = subprocess.run([CLI, "run", str(path), "--input", f"x={value}"], capture_output=True, text=True,
                          timeout=300, cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert_received_as_data(repo, value, marker)


def test_api_run_inputs_and_environment_overrides_reach_the_child_as_data(repo: Path, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    value = payload(marker)
    write_repo(repo, with_env_task=True)
    settings = resolve_settings(repo / "orchestra", repo_root=repo, max_parallel=2)
    app = create_app(ApiSettings(runner=settings, token=TOKEN), Workspace.load(repo))
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with TestClient(app, raise_server_exceptions=False) as client:
        started = client.post(f"{PREFIX}/pipelines/injection/start", headers=headers,
                              json={"runInputs": {"x": value}, "environmentOverrides": {"EXTRA": value}})
        assert started.status_code == 200, started.text
        run_id = started.json()["pipelineRunId"]
        deadline = time.monotonic() + 120
        while (status := client.get(f"{PREFIX}/pipeline_runs/{run_id}/status", headers=headers).json()
               )["runStatus"] not in ("SUCCEEDED", "WARNING", "FAILED", "SKIPPED", "CANCELLED"):
            assert time.monotonic() < deadline, status
            time.sleep(0.05)
    assert status["runStatus"] == "SUCCEEDED", status
    assert_received_as_data(repo, value, marker)
    assert seen(repo, "from_env")["argv"] == [value, value]
