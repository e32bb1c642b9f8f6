"""``orchestra-local logs``: find a task run of a pipeline run and the log files of one attempt.

A task is named as ``runs RUN_ID`` shows it: its task id (``dbt_build``), ``group.task``
(``transform.dbt_build``), a matrix iteration ``ingest_table[orders]`` (or
``ingest.ingest_table[orders]``), or its task run id. Logs are the files the runner recorded for
the task run (``task_run_files``, kind ``log``: ``<attempt>/command.log``, ``<attempt>/environment.log``,
``<attempt>/pool.log``, ...), already masked when written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from orchestra_local.console import task_label
from orchestra_local.errors import InvalidInputError
from orchestra_local.store import RunStore


def _names(record: Mapping[str, Any]) -> set[str]:
    label = task_label(record)
    short = label.split(".", 1)[1]
    return {record["id"], label, short}


def find_task_run(task_runs: Iterable[Mapping[str, Any]], name: str) -> Mapping[str, Any]:
    """The task run ``name`` designates (matrix parents never: they have no logs).

    Raises:
        InvalidInputError: No task run, or several (a matrix task named without its value); the
            message lists the names to use.
    """
    candidates = [record for record in task_runs if not record["matrix_parent"]]
    matches = [record for record in candidates if name in _names(record)]
    if not matches:  # a matrix task by its bare name: every iteration
        matches = [record for record in candidates if name in (record["task_id"], f"{record['group_id']}.{record['task_id']}")]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(task_label(record) for record in candidates)
    if not matches:
        raise InvalidInputError(f"no task {name!r} in this run; its tasks: {known}")
    raise InvalidInputError(f"{name!r} is a matrix task with {len(matches)} iterations; name one: "
                            + ", ".join(task_label(record) for record in matches))


@dataclass(frozen=True)
class LogFile:
    """One log file of an attempt."""

    name: str  # e.g. "2/command.log"
    path: Path
    attempt: int


def attempt_logs(store: RunStore, task_run_id: str, attempt: int | None = None) -> tuple[int | None, list[LogFile]]:
    """The log files of one attempt (default: the latest one that has logs), and that attempt.

    Raises:
        InvalidInputError: ``attempt`` is not one the task run has logs for.
    """
    files = [LogFile(row["filename"], Path(row["path"]), int(row["attempt"] or 0))
             for row in store.list_files(task_run_id, "log")]
    attempts = sorted({file.attempt for file in files})
    if not attempts:
        return None, []
    chosen = attempts[-1] if attempt is None else attempt
    if chosen not in attempts:
        raise InvalidInputError(f"no logs of attempt {attempt}; attempts with logs: "
                                + ", ".join(map(str, attempts)))
    return chosen, [file for file in files if file.attempt == chosen]


def print_logs(store: RunStore, pipeline_run_id: str, task: str, attempt: int | None, out: Console,
               err: Console) -> None:
    """Print the log files of one attempt of a task run, each under a rule naming it.

    Raises:
        InvalidInputError: See :func:`find_task_run` and :func:`attempt_logs`.
    """
    record = find_task_run(store.list_task_runs(pipeline_run_id), task)
    shown, files = attempt_logs(store, record["id"], attempt)
    if not files:
        err.print(f"task run {record['id']} ({record['status']}) recorded no logs", highlight=False)
        return
    for file in files:
        out.rule(f"{file.name}  (task run {record['id']}, attempt {shown})", style="dim")
        text = file.path.read_text(encoding="utf-8", errors="replace") if file.path.is_file() else "(file removed)\n"
        out.out(text, end="" if text.endswith("\n") else "\n", highlight=False)
