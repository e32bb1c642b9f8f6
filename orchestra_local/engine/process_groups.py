"""Which recorded processes are still ours, and ending them: a pid is trusted only with its start time.

A pid alone names a process only while it lives; afterwards the kernel may give it to an
unrelated one. So every record pairs a pid with the process's start time (psutil's
``create_time()``, seconds since the epoch), and nothing is signalled unless both still match:

* the runner of a pipeline run (``data.runner``: ``pid``, ``host``, ``started``);
* the process groups of task attempts (table ``task_processes``: ``pgid``, ``create_time``).

Which members of a recorded group are still ours: ``process_guard.group_members``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import psutil

from orchestra_local.errors import InvalidInputError
from orchestra_local.integrations.process import KILL_GRACE_SECONDS, ProcessRecorder
from orchestra_local.integrations.process_guard import group_members, living, same_process, terminate
from orchestra_local.store import RunStore


def this_runner(kind: str) -> dict[str, Any]:
    """The ``data.runner`` record of the current process (``kind``: ``cli`` or ``api``)."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "kind": kind,
            "started": psutil.Process().create_time()}


def runner_alive(runner: Mapping[str, Any]) -> bool:
    """Whether the process recorded in ``data.runner`` still runs (on this host; not a zombie).

    Records written before start times were kept (no ``started``) trust the pid alone.
    """
    pid, started = runner.get("pid"), runner.get("started")
    if runner.get("host") != socket.gethostname() or not isinstance(pid, int):
        return False
    try:
        process = psutil.Process(pid)
    except psutil.Error:
        return False
    if isinstance(started, int | float) and not same_process(process, float(started)):
        return False  # the pid was reused by another process
    return living(process)


def live_groups(store: RunStore, pipeline_run_id: str) -> list[dict[str, Any]]:
    """Recorded, unended process groups of a run that still have verified members on this host."""
    host = socket.gethostname()
    return [record for record in store.open_task_processes(pipeline_run_id)
            if record["host"] == host and group_members(record["pgid"], record["create_time"])]


def kill_groups(store: RunStore, records: Iterable[Mapping[str, Any]], *, grace: float = KILL_GRACE_SECONDS) -> int:
    """SIGTERM the verified members of recorded groups, SIGKILL what is left after ``grace`` seconds.

    Records of this host are then marked ended.

    Returns:
        How many processes were signalled.
    """
    host = socket.gethostname()
    records = [r for r in records if r["host"] == host]
    members = [p for r in records for p in group_members(r["pgid"], r["create_time"])]
    terminate(members, grace)
    store.end_task_processes(r["id"] for r in records)
    return len(members)


def store_recorder(store: RunStore, pipeline_run_id: str) -> ProcessRecorder:
    """A recorder writing each started process group of a run into ``task_processes``."""
    host = socket.gethostname()

    def record(task_run_id: str | None, attempt: int | None, pgid: int, create_time: float) -> Callable[[], None]:
        row = store.add_task_process(pipeline_run_id=pipeline_run_id, task_run_id=task_run_id, attempt=attempt,
                                     host=host, pgid=pgid, create_time=create_time)
        return lambda: store.end_task_process_later(row)

    return record


def refuse_while_running(store: RunStore, pipeline_run_id: str) -> None:
    """Refuse to retry a run while an earlier attempt of one of its tasks may still be running.

    Raises:
        InvalidInputError: A recorded process group of that run still has members (named).
    """
    running = live_groups(store, pipeline_run_id)
    if running:
        listed = ", ".join(f"task run {r['task_run_id']} attempt {r['attempt']} (process group {r['pgid']})"
                           for r in running)
        raise InvalidInputError(
            f"pipeline run {pipeline_run_id} still has running processes: {listed}; run "
            f"`orchestra-local cancel {pipeline_run_id}` (or wait for them) before retrying it")
