"""Cancelling a run with a 200-iteration matrix ends what never started in one store transaction."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event

ITERATIONS = 200


def test_cancelling_a_200_iteration_matrix_is_one_transaction(run_pipeline, task_repo: Path) -> None:
    pidfile = task_repo / "pid"
    commits_after_cancel: list[float] = []
    cancelled_at: list[float] = []

    def cancel_when_started(execution: Any) -> None:
        @event.listens_for(execution.run.store.engine, "commit")
        def count(_connection: Any) -> None:
            if cancelled_at:
                commits_after_cancel.append(time.monotonic())

        def watch() -> None:
            deadline = time.monotonic() + 30
            while not pidfile.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            cancelled_at.append(time.monotonic())
            execution.cancel()

        threading.Thread(target=watch, daemon=True).start()

    values = ", ".join(str(n) for n in range(ITERATIONS))
    finished = run_pipeline(f"""
        version: v1
        name: wide
        pipeline:
          work:
            matrix: {{inputs: {{n: [{values}]}}}}
            tasks:
              slow: {{integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT,
                      parameters: {{project_dir: py, command: 'python task.py --sleep 60 --pidfile {pidfile}'}}}}
        """, workers=2, on_start=cancel_when_started)
    ended = time.monotonic() - cancelled_at[0]
    children = [r for r in finished.task_runs() if not r["matrix_parent"]]
    assert finished.status == "CANCELLED"
    assert len(children) == ITERATIONS and {r["status"] for r in children} == {"CANCELLED"}
    assert [r["status"] for r in finished.task_runs() if r["matrix_parent"]] == ["CANCELLED"]
    never_started = [r for r in children if r["message"] == "cancelled before it started"]
    assert len(never_started) >= ITERATIONS - 2
    # the two running tasks end (a few writes each), the 198 others in one; then the run's status
    print(f"cancel of {ITERATIONS} iterations: {len(commits_after_cancel)} commits, {ended:.2f}s")
    assert len(commits_after_cancel) <= 15, len(commits_after_cancel)
