"""Restart options of a start request: run selected tasks, or retry a run from its failures.

Orchestra's start request (orchestra-contract section 3) accepts ``taskIds`` (run only these tasks),
``continueDownstreamRun`` (also run what depends on them) and ``retryFromFailed`` (re-run the
failed and skipped tasks of an earlier run). Locally these become a :class:`RunSelection`:

- tasks not selected end SKIPPED ("not selected") but count as OK, so selected downstream tasks
  are not blocked by them;
- tasks that SUCCEEDED or ended WARNING in the run being retried are not executed again: the
  new run records them with their earlier status and outputs ("reused from pipeline run ...").
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestra_local.engine.plan import Plan
from orchestra_local.errors import InvalidInputError
from orchestra_local.spec.statuses import TaskRunStatus
from orchestra_local.store import RunStore

NodeKey = tuple[str, str]
"""``(task id in lower case, matrix value as JSON or "")``: a task run's identity across runs."""


def node_key(task_id: str, matrix_value: Any, has_matrix: bool) -> NodeKey:
    """The identity of a task run that lets a retry find its counterpart in an earlier run."""
    return task_id.lower(), json.dumps(matrix_value, sort_keys=True, default=str) if has_matrix else ""


@dataclass(frozen=True)
class Reused:
    """A finished task run of an earlier run, taken over instead of executing again."""

    status: TaskRunStatus
    outputs: dict[str, Any]
    message: str


@dataclass(frozen=True)
class RunSelection:
    """Which task runs of a new run execute.

    Attributes:
        task_ids: Lower-cased ids of the tasks to run; None runs every task.
        reuse: Earlier results to take over, by :data:`NodeKey`.
    """

    task_ids: frozenset[str] | None = None
    reuse: Mapping[NodeKey, Reused] = field(default_factory=dict)

    def selects(self, task_id: str) -> bool:
        """Whether a task is part of this run."""
        return self.task_ids is None or task_id.lower() in self.task_ids


def _downstream(plan: Plan, chosen: set[str]) -> set[str]:
    """Ids of every task that depends, directly or not, on a chosen task."""
    result = set(chosen)
    changed = True
    while changed:
        changed = False
        done_entries = {e.entry_id for e in plan.entries if any(t.task_id.lower() in result for t in e.tasks)}
        for entry in plan.entries:
            entry_downstream = any(dep in done_entries for dep in entry.depends_on)
            for task in entry.tasks:
                if task.task_id.lower() in result:
                    continue
                if entry_downstream or any(dep.lower() in result for dep in task.depends_on):
                    result.add(task.task_id.lower())
                    changed = True
    return result


def select_tasks(plan: Plan, task_ids: Iterable[str], *, continue_downstream: bool) -> RunSelection:
    """A selection of the given tasks (and, if asked, everything downstream of them).

    Raises:
        InvalidInputError: When an id names no task of the pipeline (all unknown ids listed).
    """
    known = {t.task_id.lower(): t.task_id for e in plan.entries for t in e.tasks}
    wanted = {task_id.strip().lower() for task_id in task_ids if task_id.strip()}
    unknown = sorted(wanted - set(known))
    if unknown or not wanted:
        raise InvalidInputError(
            f"task ids not in this pipeline: {', '.join(unknown) or '(none given)'}; tasks: {', '.join(sorted(known.values()))}"
        )
    chosen = _downstream(plan, wanted) if continue_downstream else wanted
    return RunSelection(task_ids=frozenset(chosen))


def retry_from_failed(store: RunStore, pipeline_run_id: str, pipeline_id: str) -> tuple[dict[str, Any], RunSelection]:
    """The original run inputs, and its succeeded task runs to reuse.

    Raises:
        InvalidInputError: When the run does not exist, belongs to another pipeline, or is not
            finished.
    """
    original = store.get_pipeline_run(pipeline_run_id)
    if original is None:
        raise InvalidInputError(f"no pipeline run {pipeline_run_id} to retry")
    if original["pipeline_id"] != pipeline_id:
        raise InvalidInputError(f"pipeline run {pipeline_run_id} belongs to pipeline {original['pipeline_alias']}, "
                                "not to this file")
    if original["run_status"] in ("CREATED", "RUNNING", "CANCELLING"):
        raise InvalidInputError(f"pipeline run {pipeline_run_id} is still {original['run_status']}; retry it when it ends")
    reuse: dict[NodeKey, Reused] = {}
    outputs = store.outputs_of_run(pipeline_run_id)
    for record in store.list_task_runs(pipeline_run_id):
        if record["matrix_parent"] or record["status"] not in ("SUCCEEDED", "WARNING"):
            continue
        matrix = (record.get("run_parameters") or {}).get("matrix")
        value = next(iter(matrix.values())) if matrix else None
        key = node_key(record["task_id"], value, matrix is not None)
        reuse[key] = Reused(TaskRunStatus(record["status"]), outputs.get(record["id"], {}),
                            f"reused from pipeline run {pipeline_run_id}")
    return dict(original["run_inputs"] or {}), RunSelection(reuse=reuse)
