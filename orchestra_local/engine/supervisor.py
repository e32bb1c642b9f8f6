"""The wrapper every run executes in (CLI and API alike): no run is left RUNNING by its own runner.

* An error escaping the executor (a failed store write, a bug) ends the run FAILED with the
  reason: its running tasks are terminated, its unfinished task runs ended (RUNNING ones FAILED,
  the others CANCELLED) in one transaction, and :class:`RunnerError` is raised, which the CLI
  prints as one ``Error:`` line (exit 1) and the API server logs.
* Ctrl-C, SIGTERM or SIGHUP arriving outside the executor's own handling still ends the run
  CANCELLED (its tasks terminated).
* A cancel requested from another process (the run set CANCELLING by ``stale.cancel_run``) is
  noticed within :data:`EXTERNAL_CANCEL_POLL_SECONDS` and handled like Ctrl-C.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from orchestra_local.alerts.rules import pipeline_outbox
from orchestra_local.engine.executor import PipelineExecution, RunOutcome
from orchestra_local.errors import OrchestraLocalError
from orchestra_local.spec.statuses import PipelineRunStatus
from orchestra_local.store import utcnow

EXTERNAL_CANCEL_POLL_SECONDS = 0.5
"""How often a running run checks whether another process asked to cancel it."""

log = logging.getLogger(__name__)


class RunnerError(OrchestraLocalError, RuntimeError):
    """The runner itself failed while executing a run (the run is recorded FAILED when possible)."""


def _watch_for_cancel(execution: PipelineExecution, stop: threading.Event) -> None:
    store, run_id = execution.run.store, execution.pipeline_run_id
    while not stop.wait(EXTERNAL_CANCEL_POLL_SECONDS):
        try:
            record = store.get_pipeline_run(run_id)
        except OrchestraLocalError as exc:  # the store is unreachable for now: try again next tick
            log.warning("run %s: cannot read its status to check for a cancel: %s", run_id, exc)
            continue
        if record is not None and record["run_status"] == "CANCELLING":
            execution.run.listener.note("cancel requested from another process: terminating running tasks")
            execution.cancel()
            return


def execute_supervised(execution: PipelineExecution) -> RunOutcome:
    """Execute a run to its end under supervision (blocks).

    Returns:
        How the run ended.

    Raises:
        RunnerError: The executor failed; the run was recorded FAILED (the message says if even
            that failed, e.g. with the store unreachable: ``orchestra-local cancel`` clears it).
    """
    stop = threading.Event()
    watcher = threading.Thread(target=_watch_for_cancel, args=(execution, stop), daemon=True,
                               name=f"cancel-watch-{execution.pipeline_run_id[:8]}")
    watcher.start()
    try:
        return execution.execute()
    except KeyboardInterrupt:  # Ctrl-C/SIGTERM/SIGHUP outside the executor's own handling: cancel all the same
        execution.run.processes.cancel_all()
        execution.run.store.end_run(execution.pipeline_run_id, run_status="CANCELLED", message="cancelled (interrupted)",
                                    task_statuses={s: "CANCELLED" for s in ("RUNNING", "CANCELLING", "QUEUED", "CREATED")},
                                    task_message="cancelled (interrupted)", only_if_active=True,
                                    outbox=_owed(execution, "CANCELLED", "cancelled (interrupted)"))
        return RunOutcome(execution.pipeline_run_id, PipelineRunStatus.CANCELLED)
    except Exception as exc:
        execution.run.processes.cancel_all()
        reason = f"runner error: {type(exc).__name__}: {exc}"
        recorded = "the run is recorded FAILED"
        try:
            if not execution.run.store.end_run(
                execution.pipeline_run_id, run_status="FAILED", message=reason,
                task_statuses={"RUNNING": "FAILED", "CANCELLING": "CANCELLED", "QUEUED": "CANCELLED",
                               "CREATED": "CANCELLED"},
                task_message=reason, only_if_active=True, outbox=_owed(execution, "FAILED", reason)):
                recorded = "the run had already ended; its record is unchanged"
        except OrchestraLocalError as store_exc:
            recorded = f"recording it FAILED failed too ({store_exc}); clear it with `orchestra-local cancel`"
        raise RunnerError(f"pipeline run {execution.pipeline_run_id} stopped: {reason}; {recorded}") from exc
    finally:
        stop.set()


def _owed(execution: PipelineExecution, status: str, message: str) -> list[dict[str, Any]]:
    """The pipeline-level alerts a run ended here owes (``orchestra_local/alerts``)."""
    run = execution.run
    return pipeline_outbox(run.store, run.pipeline_run_id, run.alerts, status, message, utcnow())
