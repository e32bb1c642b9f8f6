"""What an exported job passes from task to task, and the runner's own run graph rebuilt from it.

An exported job (Dagster, Airflow) runs each task run of the plan as one step of its own engine.
Each step hands its downstream steps a *state*: the records of every task run upstream of it plus
its own, as plain data (picklable and JSON-able, so any executor or XCom backend carries it)::

    {"tasks": {"<label>": {"entry_id", "task_id", "iteration", "matrix_value", "task_run_id",
                           "status", "message", "outputs", "counts_as_ok", "attempts"}},
     "matrix": {"<entry_id>": [<values of a matrix expanded at run time>]}}

A step merges the states it receives and rebuilds :class:`~orchestra_local.engine.graph.RunGraph`
from them, so gating, conditions, ``tasks['x'].OUTPUTS`` and matrix views are the engine's code,
not a copy. Task runs no state mentions (not upstream of the step) read as CREATED.

Labels are ``<entry>.<task>`` and ``<entry>.<task>[<matrix value>]`` (a value that is not text as
JSON); task run ids are uuid5 of the job run's id and the label, so a retried step keeps its id.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from orchestra_local.engine.graph import EntryRun, NodeRun, RunGraph
from orchestra_local.engine.plan import Plan, PlannedEntry
from orchestra_local.spec.statuses import TaskRunStatus

TASK_RUN_NAMESPACE = uuid.UUID("0b6f3f0e-6c1f-4c36-9d4e-2f0a4e1c0de2")

State = dict[str, Any]
"""``{"tasks": {label: record}, "matrix": {entry_id: values}}`` (this module's docstring)."""


def value_text(value: Any) -> str:
    """A matrix value as it appears in labels: text as is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)


def node_label(entry: PlannedEntry, task_id: str, matrix_value: Any = None) -> str:
    """``<entry>.<task>`` or, in a matrix entry, ``<entry>.<task>[<value>]``."""
    base = f"{entry.entry_id}.{task_id}"
    return base if entry.matrix is None else f"{base}[{value_text(matrix_value)}]"


def task_run_id(pipeline_run_id: str, label: str) -> str:
    """The task run id of ``label`` in a job run (stable across the step's retries)."""
    return str(uuid.uuid5(TASK_RUN_NAMESPACE, f"{pipeline_run_id}/{label}"))


def empty_state() -> State:
    """The state before any task ran."""
    return {"tasks": {}, "matrix": {}}


def merge_states(states: Iterable[Any]) -> State:
    """One state from the states (or lists of states, a collected fan-in) a step received."""
    merged = empty_state()
    pending = list(states)
    while pending:
        state = pending.pop()
        if isinstance(state, list):
            pending.extend(state)
            continue
        if not isinstance(state, Mapping):
            raise TypeError(f"an upstream step passed {type(state).__name__}, not an orchestra state")
        merged["tasks"].update(state.get("tasks", {}))
        merged["matrix"].update(state.get("matrix", {}))
    return merged


def record_of(node: NodeRun) -> dict[str, Any]:
    """The state record of a node."""
    return {"entry_id": node.entry_id, "task_id": node.task.task_id, "iteration": node.iteration,
            "matrix_value": node.matrix_value, "task_run_id": node.task_run_id, "status": node.status.value,
            "message": node.message, "outputs": dict(node.outputs), "counts_as_ok": node.counts_as_ok,
            "attempts": node.attempts}


def with_node(state: State, label: str, node: NodeRun) -> State:
    """``state`` plus the record of ``node`` (a new dict; ``state`` is left as it was)."""
    return {"tasks": {**state["tasks"], label: record_of(node)}, "matrix": dict(state["matrix"])}


def matrix_values(entry: PlannedEntry, state: State) -> tuple[Any, ...] | None:
    """An entry's iteration values: the plan's (a literal list), the state's (expanded at run time),
    or None when neither knows them yet."""
    if entry.matrix is None:
        return (None,)
    if entry.matrix_values is not None:
        return entry.matrix_values
    values = state["matrix"].get(entry.entry_id)
    return tuple(values) if values is not None else None


def rebuild_graph(plan: Plan, state: State, pipeline_run_id: str) -> RunGraph:
    """The engine's :class:`RunGraph` of a job run as far as ``state`` knows it.

    Every entry whose iterations are known gets its nodes (statuses, outputs and messages from the
    state; CREATED for task runs it does not mention); matrix parents get stable ids.
    """
    entries = []
    for planned in plan.entries:
        entry = EntryRun(planned=planned)
        values = matrix_values(planned, state)
        if planned.matrix is not None:
            entry.parent_run_ids = {t.task_id: task_run_id(pipeline_run_id, f"{planned.entry_id}.{t.task_id}[*]")
                                    for t in planned.tasks}
        for index, value in enumerate(values or ()):
            iteration = {}
            for task in planned.tasks:
                label = node_label(planned, task.task_id, value)
                record = state["tasks"].get(label, {})
                node = NodeRun(
                    entry_id=planned.entry_id, task=task,
                    iteration=index if planned.matrix is not None else None,
                    matrix_key=planned.matrix.key if planned.matrix is not None else None, matrix_value=value,
                    task_run_id=record.get("task_run_id") or task_run_id(pipeline_run_id, label),
                    parent_run_id=entry.parent_run_ids.get(task.task_id),
                    status=TaskRunStatus(record.get("status", TaskRunStatus.CREATED.value)),
                    message=record.get("message", ""), outputs=dict(record.get("outputs", {})),
                    attempts=int(record.get("attempts", 0)), counts_as_ok=bool(record.get("counts_as_ok", False)),
                )
                iteration[task.task_id] = node
            entry.iterations.append(iteration)
        entry.opened = values is not None
        entries.append(entry)
    return RunGraph(entries)


def find_node(graph: RunGraph, entry_id: str, task_id: str, matrix_value: Any = None) -> NodeRun:
    """The node of ``task_id`` in ``entry_id`` (and the iteration of ``matrix_value``).

    Raises:
        KeyError: No such node in the graph (its matrix values are unknown, or a bug).
    """
    entry = graph.entries[entry_id]
    for iteration in entry.iterations:
        node = iteration[task_id]
        if entry.planned.matrix is None or value_text(node.matrix_value) == value_text(matrix_value):
            return node
    raise KeyError(f"no task run of {entry_id}.{task_id} for matrix value {value_text(matrix_value)}")
