"""POST /pipeline_runs/{id}/cancel answers 204 only once the run has ended; a run still ending says so."""

from __future__ import annotations

import time
from pathlib import Path

from orchestra_local.integrations.process import KILL_GRACE_SECONDS

# INLINE code runs as the process group's leader (no shell), so the leader itself ignores SIGTERM
# and the run ends only with the SIGKILL that follows the grace period.
PIPELINE = """
version: v1
name: stubborn
pipeline:
  work:
    tasks:
      hold:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        parameters:
          source: INLINE
          code: |
            import os, signal, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            open("PIDFILE", "w").write(str(os.getpid()))
            time.sleep(60)
"""


def _start(api, task_repo: Path, pidfile: Path) -> str:
    run_id = api.post("/pipelines/stubborn/start").json()["pipelineRunId"]
    deadline = time.monotonic() + 30
    while not (pidfile.exists() and pidfile.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return run_id


def test_cancel_answers_204_only_after_the_run_ended(api, write_pipeline, task_repo: Path) -> None:
    pidfile = task_repo / "pid"
    write_pipeline("stubborn", PIPELINE.replace("PIDFILE", str(pidfile)))
    run_id = _start(api, task_repo, pidfile)
    started = time.monotonic()
    response = api.post(f"/pipeline_runs/{run_id}/cancel")
    assert response.status_code == 204
    assert time.monotonic() - started >= KILL_GRACE_SECONDS - 0.5  # it waited for the SIGKILL
    assert api.get(f"/pipeline_runs/{run_id}/status").json()["runStatus"] == "CANCELLED"
    assert api.post(f"/pipeline_runs/{run_id}/cancel").status_code == 400


def test_a_cancel_that_has_not_finished_reports_the_status(api, write_pipeline, task_repo: Path) -> None:
    pidfile = task_repo / "pid"
    write_pipeline("stubborn", PIPELINE.replace("PIDFILE", str(pidfile)))
    run_id = _start(api, task_repo, pidfile)
    outcome = api.app.state.service.cancel(run_id, wait=0.2)  # the endpoint waits 30 s; here less than the grace
    assert (outcome.status, outcome.ended) == ("CANCELLING", False)
    assert api.wait(run_id, timeout=30)["runStatus"] == "CANCELLED"
