"""Cancelling a run from any process: the CLI (``orchestra-local cancel``) or an API server.

Every run records the process executing it (``data.runner``: pid, host, kind, start time) and
every task attempt its process group (``task_processes``). Cancelling is then the same whoever
started the run:

* its runner lives (same pid AND start time): the run is set CANCELLING, which the runner's
  supervisor (``supervisor.py``) notices within ``EXTERNAL_CANCEL_POLL_SECONDS`` and handles like
  Ctrl-C (tasks terminated, CANCELLED recorded); we wait for that, up to ``wait_seconds``;
* its runner is gone (killed, crashed, machine rebooted): the process groups it left are killed
  (verified by start time, see ``process_groups.py``), and the run and its unfinished task runs
  are marked CANCELLED in one transaction, so it no longer holds a ``concurrency.max_active`` slot.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Any

from orchestra_local.engine.process_groups import kill_groups, runner_alive
from orchestra_local.errors import InvalidInputError
from orchestra_local.store import RunStore

ACTIVE = ("CREATED", "RUNNING", "CANCELLING")
UNFINISHED_TASK_STATUSES = ("CREATED", "QUEUED", "RUNNING", "CANCELLING")


@dataclass(frozen=True)
class CancelOutcome:
    """What cancelling did.

    Attributes:
        status: The run's status afterwards (CANCELLING while its runner is still ending it).
        ended: Whether the run has ended.
        message: One line for the operator.
    """

    status: str
    ended: bool
    message: str


class RunNotFoundError(InvalidInputError):
    """No pipeline run has that id."""


def end_abandoned_run(store: RunStore, pipeline_run_id: str, message: str) -> bool:
    """Kill what a dead runner left and mark the run and its unfinished task runs CANCELLED.

    Returns:
        False when the run had ended meanwhile (then nothing is changed).
    """
    kill_groups(store, store.open_task_processes(pipeline_run_id))
    return store.end_run(pipeline_run_id, run_status="CANCELLED", message=message,
                         task_statuses={s: "CANCELLED" for s in UNFINISHED_TASK_STATUSES},
                         task_message=message, only_if_active=True)


def cancel_run(store: RunStore, pipeline_run_id: str, *, wait_seconds: float = 30.0) -> CancelOutcome:
    """Cancel a run, whichever process executes it (or executed it and died).

    Args:
        store: The metadata store.
        pipeline_run_id: The run.
        wait_seconds: How long to wait for a live runner to end the run.

    Raises:
        RunNotFoundError: Unknown run.
        InvalidInputError: A run that already ended, or one whose runner lives on another host.
    """
    run = store.get_pipeline_run(pipeline_run_id)
    if run is None:
        raise RunNotFoundError(f"no pipeline run {pipeline_run_id}")
    if run["run_status"] not in ACTIVE:
        raise InvalidInputError(f"pipeline run {pipeline_run_id} already ended {run['run_status']}")
    runner: dict[str, Any] = (run.get("data") or {}).get("runner") or {}
    pid, host = runner.get("pid"), runner.get("host")
    if host not in (None, socket.gethostname()):
        raise InvalidInputError(f"pipeline run {pipeline_run_id} runs on host {host}; cancel it there")
    if runner_alive(runner):
        store.request_cancel(pipeline_run_id)  # a no-op if it ended meanwhile: the loop below sees that
        deadline = time.monotonic() + wait_seconds
        while True:
            record = store.get_pipeline_run(pipeline_run_id)
            status = record["run_status"] if record is not None else "CANCELLED"
            if status not in ACTIVE:
                return CancelOutcome(status, True, f"runner (pid {pid}) cancelled the run: {status}")
            if time.monotonic() >= deadline or not runner_alive(runner):
                break
            time.sleep(0.2)
        if runner_alive(runner):
            return CancelOutcome(status, False, f"asked the runner (pid {pid}) to cancel; it is still {status}")
    message = "cancelled: its runner process is gone"
    if not end_abandoned_run(store, pipeline_run_id, message):
        record = store.get_pipeline_run(pipeline_run_id)
        status = record["run_status"] if record is not None else "CANCELLED"
        return CancelOutcome(status, True, f"the run ended {status} meanwhile")
    return CancelOutcome("CANCELLED", True, f"marked CANCELLED: its runner (pid {pid}) is gone; "
                                            "its remaining task processes were killed")
