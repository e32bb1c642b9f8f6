"""Runtime state of a pipeline run: which node can start, and whether it runs or is skipped.

A *node* is one task run that executes: a task of a plain entry, or one matrix iteration of a
task (a child run). Matrix parents are bookkeeping records whose status follows their children.
Only the executor's main thread mutates this state; worker threads read statuses for expressions.

Gating (orchestra-contract section 3): without a condition, a node runs when every upstream task run
(its in-group dependencies in the same iteration, and every task run of the entries its entry
depends on) ended SUCCEEDED or WARNING; otherwise it is SKIPPED, which then propagates. With a
condition (group AND task), the condition alone decides. Paused groups and tasks do not run;
they count as SUCCEEDED for downstream gating when they would otherwise have run. Remote-only
tasks skipped on request (``--skip-remote``) count as SUCCEEDED for gating too, and say so in
their message, so "run the rest" runs the local tasks downstream of them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from orchestra_local.engine.plan import PlannedEntry, PlannedTask
from orchestra_local.engine.restarts import RunSelection, node_key
from orchestra_local.errors import ExpressionError
from orchestra_local.expressions import Namespace, Scope, Status, evaluate_template
from orchestra_local.spec.statuses import TaskRunStatus, matrix_parent_status


@dataclass
class NodeRun:
    """One executable task run (a plain task, or one matrix iteration of a task)."""

    entry_id: str
    task: PlannedTask
    iteration: int | None
    matrix_key: str | None
    matrix_value: Any
    task_run_id: str
    parent_run_id: str | None = None
    status: TaskRunStatus = TaskRunStatus.CREATED
    message: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    counts_as_ok: bool = False  # paused nodes: SKIPPED, yet OK for downstream gating

    @property
    def label(self) -> str:
        """``task_id`` or ``task_id[value]`` for matrix iterations."""
        if self.iteration is None:
            return self.task.task_id
        value = self.matrix_value if isinstance(self.matrix_value, str) else json.dumps(self.matrix_value, default=str)
        return f"{self.task.task_id}[{value}]"

    @property
    def ok(self) -> bool:
        """Lets downstream run under the default rule."""
        return self.status.is_ok or self.counts_as_ok

    @property
    def run_parameters(self) -> dict[str, Any]:
        """What distinguishes this run (Orchestra's ``runParameters``): the matrix value, if any."""
        return {} if self.matrix_key is None else {"matrix": {self.matrix_key: self.matrix_value}}


@dataclass
class EntryRun:
    """Runtime state of one top-level entry."""

    planned: PlannedEntry
    opened: bool = False
    iterations: list[dict[str, NodeRun]] = field(default_factory=list)
    parent_run_ids: dict[str, str] = field(default_factory=dict)
    stopped_by: int | None = None  # iteration whose failure stopped the matrix
    error: str | None = None  # the entry itself failed (e.g. its matrix expression)
    started_iterations: set[int] = field(default_factory=set)

    def nodes(self) -> Iterator[NodeRun]:
        """Every node, by iteration then task order."""
        for iteration in self.iterations:
            yield from iteration.values()

    @property
    def done(self) -> bool:
        """Opened and every node terminal."""
        return self.opened and all(node.status.is_terminal for node in self.nodes())

    @property
    def ok(self) -> bool:
        """No error and every node OK (for gating of downstream entries)."""
        return self.error is None and all(node.ok for node in self.nodes())

    def iteration_limit(self) -> int | None:
        """Most iterations in flight at once (None = no limit)."""
        matrix = self.planned.matrix
        if matrix is None:
            return None
        if matrix.sequential:
            return 1
        return max(1, matrix.max_parallel) if matrix.max_parallel is not None else None

    def iteration_done(self, index: int) -> bool:
        """All nodes of an iteration are terminal."""
        return all(node.status.is_terminal for node in self.iterations[index].values())

    def parent_status(self, task_id: str) -> TaskRunStatus:
        """Aggregate status of a matrix task over its iterations (RUNNING while any is not final)."""
        children = [iteration[task_id].status for iteration in self.iterations if task_id in iteration]
        if not all(status.is_terminal for status in children):
            return TaskRunStatus.RUNNING if any(s != TaskRunStatus.CREATED for s in children) else TaskRunStatus.CREATED
        return matrix_parent_status(children)


@dataclass(frozen=True)
class Decision:
    """What to do with a ready node: run it, or give it a final status with a reason."""

    status: TaskRunStatus | None  # None = run
    message: str = ""
    counts_as_ok: bool = False
    outputs: dict[str, Any] = field(default_factory=dict)


RUN = Decision(None)


class OutputMap(dict):  # type: ignore[type-arg]
    """Outputs as a dict whose string keys match case-insensitively (Orchestra compares them so)."""

    def __missing__(self, key: Any) -> Any:
        folded = str(key).lower()
        for name, value in self.items():
            if str(name).lower() == folded:
                return value
        raise KeyError(f"OUTPUTS has no '{key}' (outputs: {', '.join(map(str, self)) or 'none'})")


class RunGraph:
    """All entries and nodes of a run, and the gating rules over them."""

    def __init__(self, entries: list[EntryRun], selection: RunSelection | None = None):
        self.entries = {entry.planned.entry_id: entry for entry in entries}
        self.selection = selection or RunSelection()
        self._task_entry = {t.task_id.lower(): e.planned.entry_id for e in entries for t in e.planned.tasks}
        self._entry_folded = {eid.lower(): eid for eid in self.entries}

    def nodes(self) -> Iterator[NodeRun]:
        """Every node of every opened entry, in plan order."""
        for entry in self.entries.values():
            yield from entry.nodes()

    @property
    def done(self) -> bool:
        """Every entry is done."""
        return all(entry.done for entry in self.entries.values())

    def entries_to_open(self) -> list[EntryRun]:
        """Unopened entries whose upstream entries are all done, in plan order."""
        return [
            entry for entry in self.entries.values()
            if not entry.opened and all(self.entries[dep].done for dep in entry.planned.depends_on)
        ]

    def ready_nodes(self) -> list[NodeRun]:
        """CREATED nodes whose in-group upstream is terminal and whose iteration may start."""
        ready = []
        for entry in self.entries.values():
            if not entry.opened:
                continue
            limit = entry.iteration_limit()
            in_flight = {i for i in entry.started_iterations if not entry.iteration_done(i)}
            for index, iteration in enumerate(entry.iterations):
                if index not in entry.started_iterations and limit is not None and len(in_flight) >= limit:
                    continue
                for node in iteration.values():
                    if node.status == TaskRunStatus.CREATED and all(
                        iteration[dep].status.is_terminal for dep in node.task.depends_on
                    ):
                        ready.append(node)
                        if index not in entry.started_iterations:
                            entry.started_iterations.add(index)
                            in_flight.add(index)
        return ready

    def _upstream_failures(self, node: NodeRun) -> list[str]:
        entry = self.entries[node.entry_id]
        iteration = entry.iterations[node.iteration or 0]
        bad = [f"{dep} is {iteration[dep].status}" for dep in node.task.depends_on if not iteration[dep].ok]
        for dep in entry.planned.depends_on:
            if not self.entries[dep].ok:
                bad.append(f"{dep} did not succeed")
        return bad

    def decide(self, node: NodeRun, scope: Scope, *, skip_remote: bool) -> Decision:
        """Run the node, or skip/fail it, per the gating rules of this module's docstring."""
        entry = self.entries[node.entry_id]
        reused = self.selection.reuse.get(node_key(node.task.task_id, node.matrix_value, node.matrix_key is not None))
        if reused is not None:
            return Decision(reused.status, reused.message, counts_as_ok=True, outputs=reused.outputs)
        if not self.selection.selects(node.task.task_id):
            return Decision(TaskRunStatus.SKIPPED, "not selected for this run", counts_as_ok=True)
        if entry.stopped_by is not None:
            return Decision(TaskRunStatus.SKIPPED, f"not started: matrix iteration {entry.stopped_by} failed "
                                                    "(continue_on_error is false)")
        task_path = f"pipeline.{node.entry_id}" + (f".tasks.{node.task.task_id}" if entry.planned.is_group else "")
        located = [(c, where) for c, where in ((entry.planned.condition, f"pipeline.{node.entry_id}.condition"),
                                               (node.task.task.condition, f"{task_path}.condition")) if c]
        conditions = [c for c, _ in located]
        upstream_bad = self._upstream_failures(node)
        would_run = not upstream_bad
        if conditions:
            try:
                would_run = all(bool(evaluate_template(c, scope, where)) for c, where in located)
            except ExpressionError as exc:
                return Decision(TaskRunStatus.FAILED, f"condition could not be evaluated: {exc}")
        if entry.planned.paused or node.task.task.paused:
            return Decision(TaskRunStatus.SKIPPED, "paused", counts_as_ok=would_run)
        if conditions and not would_run:
            return Decision(TaskRunStatus.SKIPPED, "condition is false: " + " and ".join(conditions))
        if not would_run:
            return Decision(TaskRunStatus.SKIPPED, "upstream did not succeed: " + "; ".join(upstream_bad))
        if not node.task.local and skip_remote:
            # "Run the rest": what depends on a remote task still runs, as if it had succeeded.
            return Decision(TaskRunStatus.SKIPPED, f"remote-only integration {node.task.task.integration}/"
                                                    f"{node.task.task.integration_job}: not executed locally "
                                                    "(--skip-remote); downstream tasks run as if it succeeded",
                            counts_as_ok=True)
        return RUN

    # -- what expressions read -----------------------------------------------------------------

    def task_view(self, task_id: str, viewer: NodeRun | None) -> Namespace:
        """``tasks['<id>']`` as seen from ``viewer`` (the same iteration inside a matrix entry).

        Raises:
            KeyError: When the pipeline has no such task.
        """
        entry_id = self._task_entry.get(task_id.lower())
        if entry_id is None:
            raise KeyError(f"no task '{task_id}' in this pipeline")
        entry = self.entries[entry_id]
        planned_id = next(t.task_id for t in entry.planned.tasks if t.task_id.lower() == task_id.lower())
        if entry.planned.matrix is None or (viewer is not None and viewer.entry_id == entry_id):
            index = viewer.iteration if viewer is not None and viewer.entry_id == entry_id else 0
            node = entry.iterations[index or 0][planned_id] if entry.iterations else None
            if node is not None:
                return _node_view(node)
        outputs = OutputMap()
        for iteration in entry.iterations:
            child = iteration[planned_id]
            key = child.matrix_value if isinstance(child.matrix_value, str) else json.dumps(child.matrix_value, default=str)
            outputs[key] = OutputMap(child.outputs)
        return Namespace(
            f"tasks['{task_id}']",
            {
                "STATUS": Status(entry.parent_status(planned_id) if entry.iterations else TaskRunStatus.CREATED),
                "TASK_RUN_ID": entry.parent_run_ids.get(planned_id, ""),
                "RUN_PARAMETERS": {},
                "OUTPUTS": outputs,
            },
        )

    def group_statuses(self, group_id: str) -> list[str]:
        """Statuses of every node of an entry.

        Raises:
            KeyError: When the pipeline has no such entry.
        """
        entry_id = self._entry_folded.get(group_id.lower())
        if entry_id is None:
            raise KeyError(f"no task group '{group_id}' in this pipeline")
        return [str(node.status) for node in self.entries[entry_id].nodes()]


def _node_view(node: NodeRun) -> Namespace:
    return Namespace(
        f"tasks['{node.task.task_id}']",
        {
            "STATUS": Status(node.status),
            "TASK_RUN_ID": node.task_run_id,
            "RUN_PARAMETERS": node.run_parameters,
            "OUTPUTS": OutputMap(node.outputs),
        },
    )


class NodeRunState:
    """The :class:`~orchestra_local.expressions.RunState` of one node's expressions."""

    def __init__(self, graph: RunGraph, viewer: NodeRun | None):
        self._graph = graph
        self._viewer = viewer

    def task_view(self, task_id: str) -> Namespace:
        """See :meth:`RunGraph.task_view`."""
        return self._graph.task_view(task_id, self._viewer)

    def group_statuses(self, group_id: str) -> list[str]:
        """See :meth:`RunGraph.group_statuses`."""
        return self._graph.group_statuses(group_id)
