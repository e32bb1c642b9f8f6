"""POST /pipelines/{id}/start with `commit`/`branch`: the run executes that revision's code."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

PIPELINE = """\
version: v1
name: which_code
pipeline:
  g:
    tasks:
      say:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        parameters: {project_dir: py, command: python say.py}
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=T", "-c", "user.email=t@example.com", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def committed(task_repo: Path, write_pipeline) -> str:  # type: ignore[no-untyped-def]
    """say.py prints 'said v1' at the returned commit and 'said v2' in the working tree."""
    (task_repo / ".git").rmdir()
    git(task_repo, "init", "-q", "-b", "main")
    write_pipeline("which_code", PIPELINE)
    (task_repo / "py" / "say.py").write_text("print('said v1')\n")
    git(task_repo, "add", ".")
    git(task_repo, "commit", "-q", "-m", "v1")
    (task_repo / "py" / "say.py").write_text("print('said v2')\n")
    return git(task_repo, "rev-parse", "HEAD")


def _said(api, run_id: str) -> str:  # type: ignore[no-untyped-def]
    (task_run,) = api.get(f"/pipeline_runs/{run_id}/task_runs").json()["results"]
    log = api.get(f"/pipeline_runs/{run_id}/task_runs/{task_run['id']}/logs/download",
                  params={"filename": "1/command.log"})
    return log.text.strip()


def test_start_with_a_commit_runs_that_commit(api, committed: str) -> None:  # type: ignore[no-untyped-def]
    started = api.post("/pipelines/which_code/start", json={"commit": committed, "branch": "main"})
    assert started.status_code == 200, started.text
    record = api.wait(started.json()["pipelineRunId"])
    assert record["runStatus"] == "SUCCEEDED" and (record["branch"], record["commit"]) == ("main", committed)
    assert _said(api, record["id"]) == "said v1"
    plain = api.wait(api.post("/pipelines/which_code/start", json={}).json()["pipelineRunId"])
    assert _said(api, plain["id"]) == "said v2"  # no revision: the working tree


def test_an_unknown_commit_is_a_400_and_no_run(api, committed: str) -> None:  # type: ignore[no-untyped-def]
    answer = api.post("/pipelines/which_code/start", json={"commit": "f" * 40})
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith(f"unknown commit '{'f' * 40}'")
    assert api.get("/pipeline_runs").json()["total"] == 0
