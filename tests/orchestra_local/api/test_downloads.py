"""Log and artifact downloads never serve a file from outside the task run's folder (symlinks included)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ONE = """
version: v1
name: one
pipeline:
  g:
    tasks:
      t: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, parameters: {project_dir: py, command: "python task.py"}}
"""
SECRET = "outside-the-state-dir 0xSECRET"


@pytest.fixture
def finished(api, write_pipeline, tmp_path: Path):
    write_pipeline("one", ONE)
    run_id = api.post("/pipelines/one/start").json()["pipelineRunId"]
    assert api.wait(run_id)["runStatus"] == "SUCCEEDED"
    task_run = api.get(f"/pipeline_runs/{run_id}/task_runs").json()["results"][0]
    base = f"/pipeline_runs/{run_id}/task_runs/{task_run['id']}"
    log = Path(api.app.state.service.store.list_files(task_run["id"], "log")[0]["path"])
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "command.log").write_text(SECRET)
    return api, base, log, outside


def test_the_log_downloads_while_it_is_a_plain_file(finished) -> None:
    api, base, _log, _outside = finished
    response = api.get(f"{base}/logs/download", params={"filename": "1/command.log"})
    assert response.status_code == 200 and response.text.startswith("task ")


def test_a_symlinked_log_file_is_not_followed_out(finished) -> None:
    api, base, log, outside = finished
    log.unlink()
    log.symlink_to(outside / "command.log")
    response = api.get(f"{base}/logs/download", params={"filename": "1/command.log"})
    assert response.status_code == 404 and SECRET not in response.text


def test_a_symlinked_folder_is_not_followed_out(finished) -> None:
    api, base, log, outside = finished
    folder = log.parent
    shutil.rmtree(folder)
    folder.symlink_to(outside, target_is_directory=True)
    response = api.get(f"{base}/logs/download", params={"filename": "1/command.log"})
    assert response.status_code == 404 and SECRET not in response.text


def test_a_symlink_inside_the_folder_still_serves(finished) -> None:
    api, base, log, _outside = finished
    real = log.with_name("real.log")
    log.rename(real)
    log.symlink_to(real.name)
    response = api.get(f"{base}/logs/download", params={"filename": "1/command.log"})
    assert response.status_code == 200 and response.text.startswith("task ")
