"""Cancelling a run from outside the process that executes it (``orchestra-local cancel``).

Every run records which process executes it (``data.runner``: pid, host, kind). A run whose CLI
runner is alive is sent SIGTERM, which that runner handles like Ctrl-C (its tasks are terminated
and it records CANCELLED). A run whose runner is gone (killed, machine rebooted) is marked
CANCELLED directly, so it no longer holds a ``concurrency.max_active`` slot.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from typing import Any

from orchestra_local.errors import InvalidInputError
from orchestra_local.store import RunStore, utcnow

ACTIVE = ("CREATED", "RUNNING", "CANCELLING")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def cancel_run(store: RunStore, pipeline_run_id: str, *, wait_seconds: float = 30.0) -> str:
    """Cancel a run executed by another process; returns what was done (one line).

    Raises:
        InvalidInputError: Unknown run, a run that already ended, one executed by an API server
            (cancel it through the API) or on another host.
    """
    run = store.get_pipeline_run(pipeline_run_id)
    if run is None:
        raise InvalidInputError(f"no pipeline run {pipeline_run_id}")
    if run["run_status"] not in ACTIVE:
        raise InvalidInputError(f"pipeline run {pipeline_run_id} already ended {run['run_status']}")
    runner: dict[str, Any] = (run.get("data") or {}).get("runner") or {}
    pid, host = runner.get("pid"), runner.get("host")
    if host == socket.gethostname() and isinstance(pid, int) and _alive(pid):
        if runner.get("kind") == "api":
            raise InvalidInputError(
                f"pipeline run {pipeline_run_id} runs in an API server (pid {pid}); cancel it with "
                f"POST /api/engine/public/pipeline_runs/{pipeline_run_id}/cancel"
            )
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            record = store.get_pipeline_run(pipeline_run_id)
            if record is not None and record["run_status"] not in ACTIVE:
                return f"runner (pid {pid}) cancelled the run: {record['run_status']}"
            time.sleep(0.2)
        return f"sent SIGTERM to the runner (pid {pid}); it has not finished cancelling yet"
    if host not in (None, socket.gethostname()):
        raise InvalidInputError(f"pipeline run {pipeline_run_id} runs on host {host}; cancel it there")
    now = utcnow()
    message = "cancelled: its runner process is gone"
    store.update_task_runs([t["id"] for t in store.list_task_runs(pipeline_run_id)
                            if t["status"] in ("CREATED", "QUEUED", "RUNNING", "CANCELLING")],
                           status="CANCELLED", message=message, completed_at=now)
    store.update_pipeline_run(pipeline_run_id, run_status="CANCELLED", message=message, completed_at=now)
    return f"marked CANCELLED: its runner (pid {pid}) is gone"
