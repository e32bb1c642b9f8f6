"""Executing a prepared pipeline run: scheduling, statuses, cancellation.

The main thread owns the run's state: it opens entries whose upstream is done, decides for each
ready node whether it runs or ends SKIPPED/FAILED, and hands the nodes that run to a thread pool
of ``max_parallel`` workers (with one worker, nodes run inline: a plain sequential path). Every
status change is committed to the store as it happens, except QUEUED on the way to RUNNING: the
store sees QUEUED only while a task waits for a pool (``pool_waits.py``). Cancelling (``cancel()``, Ctrl-C, SIGTERM,
SIGHUP, or a cancel from another process noticed by ``supervisor.py``) terminates running
processes, marks everything not started CANCELLED in one store transaction, and ends the run
CANCELLED; nothing is left RUNNING. An error escaping :meth:`PipelineExecution.execute` first
terminates the running tasks; ``supervisor.py`` then records the run FAILED.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from orchestra_local.alerts.rules import pipeline_outbox, task_outbox
from orchestra_local.engine.attempts import RunContext, run_node
from orchestra_local.engine.graph import Decision, EntryRun, NodeRun
from orchestra_local.engine.plan import PlannedEntry, expand_matrix
from orchestra_local.errors import ExpressionError
from orchestra_local.integrations.base import TaskResult
from orchestra_local.spec.statuses import PipelineRunStatus, TaskRunStatus, pipeline_run_status
from orchestra_local.store import new_id, utcnow
from orchestra_local.webhook import WebhookReceiver

CONCURRENCY_POLL_SECONDS = 0.25
"""How often a run waiting for a concurrency slot checks the store again."""


@dataclass(frozen=True)
class RunOutcome:
    """How a pipeline run ended."""

    pipeline_run_id: str
    status: PipelineRunStatus


class _InlinePool:
    """The one-worker path: runs each node in the calling thread."""

    def __init__(self) -> None:
        self.interrupted = False

    def submit(self, job: Callable[[], TaskResult], done: Callable[[TaskResult], None]) -> None:
        try:
            result = job()
        except KeyboardInterrupt:
            self.interrupted = True
            result = TaskResult(TaskRunStatus.CANCELLED, "cancelled (interrupted)")
        done(result)

    def shutdown(self) -> None:
        """Nothing to release."""


class _ThreadPool:
    def __init__(self, workers: int) -> None:
        self.interrupted = False
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="task")

    def submit(self, job: Callable[[], TaskResult], done: Callable[[TaskResult], None]) -> None:
        def work() -> None:
            try:
                result = job()
            except BaseException as exc:  # noqa: BLE001 - reported as the task's failure, never lost
                result = TaskResult(TaskRunStatus.FAILED, f"runner error: {type(exc).__name__}: {exc}")
            done(result)

        self._pool.submit(work)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)


class PipelineExecution:
    """One pipeline run in progress. Create it with :func:`orchestra_local.engine.runner.start`."""

    def __init__(self, run: RunContext, entries: list[EntryRun]):
        self.run = run
        self.graph = run.graph
        self._entries = entries
        self._finished: queue.Queue[tuple[NodeRun, TaskResult]] = queue.Queue()
        self._running = 0
        self._cancelled = threading.Event()
        self._parent_written: dict[str, TaskRunStatus] = {}
        self._positions = 0  # plan order of task-run records

    @property
    def pipeline_run_id(self) -> str:
        """Id of the pipeline run."""
        return self.run.pipeline_run_id

    def cancel(self) -> None:
        """Request cancellation (thread-safe): running processes are terminated at once."""
        self._cancelled.set()
        self.run.processes.cancel_all()

    # -- records -------------------------------------------------------------------------------

    def _set_status(self, node: NodeRun, status: TaskRunStatus, message: str, **fields: Any) -> None:
        ended_before = node.status.is_terminal  # a node already ended (abandoned at a second Ctrl-C) owes nothing new
        node.status = status
        node.message = message
        alerts = node.task.task.alerts
        outbox = task_outbox(self.run.store, self.pipeline_run_id, node.task_run_id, alerts, status.value, message,
                             utcnow()) if alerts and status.is_terminal and not ended_before else ()
        self.run.store.update_task_run(node.task_run_id, status=status.value, message=message, outbox=outbox, **fields)
        self.run.listener.node_changed(node)
        self._sync_parent(node)

    def _sync_parent(self, node: NodeRun) -> None:
        if node.parent_run_id is None:
            return
        entry = self.graph.entries[node.entry_id]
        status = entry.parent_status(node.task.task_id)
        if self._parent_written.get(node.parent_run_id) == status:
            return
        self._parent_written[node.parent_run_id] = status
        fields: dict[str, Any] = {"status": status.value}
        if status == TaskRunStatus.RUNNING:
            fields["started_at"] = utcnow()
        elif status.is_terminal:
            fields["completed_at"] = utcnow()
        self.run.store.update_task_run(node.parent_run_id, **fields)

    def materialize(self, entry: EntryRun, values: tuple[Any, ...] | None) -> None:
        """Create the entry's nodes and their task-run records (matrix parents first).

        Args:
            entry: The entry.
            values: Matrix values; None for a plain entry, or for a matrix known only at run time
                (then only the parent records are created).
        """
        planned: PlannedEntry = entry.planned
        run = self.run
        common = {"pipeline_run_id": run.pipeline_run_id, "pipeline_id": run.pipeline_id, "group_id": planned.entry_id}
        records = []
        if planned.matrix is not None and not entry.parent_run_ids:
            for task in planned.tasks:
                entry.parent_run_ids[task.task_id] = new_id()
                records.append(_task_record(task, entry.parent_run_ids[task.task_id], planned, common,
                                            matrix_parent=True))
        key = planned.matrix.key if planned.matrix is not None else None
        if key is None:
            batches: tuple[Any, ...] = (None,)
        else:
            batches = values if values is not None else ()  # deferred: children come when it opens
        for value in batches:
            iteration = {}
            for task in planned.tasks:
                node = NodeRun(
                    entry_id=planned.entry_id, task=task, iteration=len(entry.iterations) if key else None,
                    matrix_key=key, matrix_value=value, task_run_id=new_id(),
                    parent_run_id=entry.parent_run_ids.get(task.task_id),
                )
                iteration[task.task_id] = node
                records.append(_task_record(task, node.task_run_id, planned, common, node=node))
            entry.iterations.append(iteration)
        for record in records:
            record["position"] = self._positions
            self._positions += 1
        run.store.create_task_runs(records)

    # -- scheduling ----------------------------------------------------------------------------

    def _open_entries(self) -> None:
        for entry in self.graph.entries_to_open():
            if entry.planned.deferred_matrix and entry.planned.matrix is not None:
                where = f"pipeline.{entry.planned.entry_id}.matrix.inputs.{entry.planned.matrix.key}"
                try:
                    values = expand_matrix(entry.planned.matrix, self.run.scope(None), where)
                except ExpressionError as exc:
                    self._fail_parents(entry, str(exc))
                    entry.opened = True
                    continue
                self.materialize(entry, values)
                self.run.listener.nodes_added(len(values) * len(entry.planned.tasks))
            entry.opened = True
            if not entry.iterations and entry.parent_run_ids:
                self._fail_parents(entry, "matrix has no values", TaskRunStatus.SKIPPED)

    def _fail_parents(self, entry: EntryRun, message: str, status: TaskRunStatus = TaskRunStatus.FAILED) -> None:
        if status == TaskRunStatus.FAILED:
            entry.error = message
        self.run.store.update_task_runs(entry.parent_run_ids.values(), status=status.value, message=message,
                                        completed_at=utcnow())
        self.run.listener.note(f"{entry.planned.entry_id}: {message}")

    def _dispatch(self, pool: _InlinePool | _ThreadPool, capacity: int) -> None:
        """Decide ready nodes; start those that run, while there is capacity."""
        for node in self.graph.ready_nodes():
            if self._running >= capacity:
                break
            decision: Decision = self.graph.decide(node, self.run.scope(node), skip_remote=self.run.skip_remote)
            if decision.status is not None:
                node.counts_as_ok = decision.counts_as_ok
                if decision.outputs:
                    node.outputs = dict(decision.outputs)
                    self.run.store.set_outputs(node.task_run_id, decision.outputs)
                now = utcnow()
                self._set_status(node, decision.status, decision.message, completed_at=now)
                self._after_final(node)
                continue
            # QUEUED in memory and on the console only: the attempt writes RUNNING (with its parameters)
            # a moment later, or QUEUED with the reason when it waits for a pool (pool_waits.py), so a
            # store write here would say nothing more and cost one write per task.
            node.status, node.message = TaskRunStatus.QUEUED, ""
            self.run.listener.node_changed(node)
            self._sync_parent(node)
            self._running += 1
            pool.submit(lambda node=node: run_node(self.run, node), lambda result, node=node: self._finished.put((node, result)))

    def _complete(self, node: NodeRun, result: TaskResult) -> None:
        self._running -= 1
        status, message = result.status, result.message
        if status == TaskRunStatus.FAILED and node.task.task.treat_failure_as_warning:
            status, message = TaskRunStatus.WARNING, f"failed, treated as a warning: {message}"
        node.outputs = dict(result.outputs)
        if result.outputs:
            self.run.store.set_outputs(node.task_run_id, result.outputs)
        if result.operations:
            self.run.store.add_operations(result.operations)
        extra = {"external_status": result.external_status} if result.external_status is not None else {}
        self._set_status(node, status, message, completed_at=utcnow(), **extra)
        self._after_final(node)

    def _after_final(self, node: NodeRun) -> None:
        entry = self.graph.entries[node.entry_id]
        matrix = entry.planned.matrix
        if (
            node.status == TaskRunStatus.FAILED and matrix is not None and not matrix.continue_on_error
            and entry.stopped_by is None
        ):
            entry.stopped_by = node.iteration

    def _cancel_remaining(self) -> None:
        """Mark every node not started CANCELLED, with its matrix parents, in ONE store transaction."""
        now = utcnow()
        parents: list[str] = []
        cancelled: list[NodeRun] = []
        for entry in self.graph.entries.values():
            if not entry.opened and not entry.iterations and entry.parent_run_ids:
                parents.extend(entry.parent_run_ids.values())
            for node in entry.nodes():
                if node.status in (TaskRunStatus.CREATED, TaskRunStatus.QUEUED):
                    node.status, node.message = TaskRunStatus.CANCELLED, "cancelled before it started"
                    cancelled.append(node)
            entry.opened = True
        if not parents and not cancelled:
            return
        batches: list[tuple[list[str], dict[str, Any]]] = [
            (parents, {"status": TaskRunStatus.CANCELLED.value, "message": "cancelled", "completed_at": now}),
            ([n.task_run_id for n in cancelled], {"status": TaskRunStatus.CANCELLED.value,
                                                  "message": "cancelled before it started", "completed_at": now}),
        ]
        synced: set[tuple[str, str]] = set()
        for node in cancelled:  # each matrix parent's status is computed once, not once per child
            key = (node.entry_id, node.task.task_id)
            if node.parent_run_id is None or key in synced:
                continue
            synced.add(key)
            status = self.graph.entries[node.entry_id].parent_status(node.task.task_id)
            if self._parent_written.get(node.parent_run_id) != status:
                self._parent_written[node.parent_run_id] = status
                fields: dict[str, Any] = {"status": status.value}
                if status.is_terminal:
                    fields["completed_at"] = now
                batches.append(([node.parent_run_id], fields))
        self.run.store.update_task_run_batches(batches)
        for node in cancelled:
            self.run.listener.node_changed(node)

    def execute(self) -> RunOutcome:
        """Run to the end (or until cancelled) and record the final status. Blocks."""
        capacity = self.run.settings.max_parallel
        pool: _InlinePool | _ThreadPool = _InlinePool() if capacity == 1 else _ThreadPool(capacity)
        store = self.run.store
        self._wait_for_a_slot()
        store.update_pipeline_run(self.pipeline_run_id, run_status=PipelineRunStatus.RUNNING.value, started_at=utcnow())
        with WebhookReceiver() as webhook:
            self.run.webhook = webhook
            self.run.masker.add(webhook.token)
            try:
                self._loop(pool, capacity)
            except BaseException:
                # An escaping error (see supervisor.py) must not wait for running tasks to finish.
                self.run.processes.cancel_all()
                pool.shutdown()
                raise
            else:
                pool.shutdown()
                while not self._finished.empty():  # results that arrived after the loop stopped
                    self._complete(*self._finished.get_nowait())
            finally:
                self.run.webhook = None
        leaves = [node.status for node in self.graph.nodes()]
        leaves += [TaskRunStatus.FAILED for entry in self.graph.entries.values() if entry.error]
        cancelled = self._cancelled.is_set()
        status = pipeline_run_status(leaves, cancelled=cancelled)
        counts = {s: leaves.count(s) for s in dict.fromkeys(leaves)}
        message = ", ".join(f"{n} {s.lower()}" for s, n in counts.items()) or "no tasks"
        completed = utcnow()
        outbox = pipeline_outbox(store, self.pipeline_run_id, self.run.alerts, status.value, message, completed)
        store.update_pipeline_run(self.pipeline_run_id, run_status=status.value, message=message, completed_at=completed,
                                  outbox=outbox)
        self.run.listener.run_finished(self.pipeline_run_id, status.value)
        return RunOutcome(self.pipeline_run_id, status)

    def _wait_for_a_slot(self) -> None:
        """Stay CREATED while ``max_active`` runs of this pipeline are ahead (cancellable)."""
        limit = self.run.max_active
        if limit is None:
            return
        record = self.run.store.get_pipeline_run(self.pipeline_run_id)
        assert record is not None
        waiting_said = False
        while (ahead := self.run.store.count_runs_ahead(self.run.pipeline_id, self.pipeline_run_id,
                                                         record["created_at"])) >= limit:
            if not waiting_said:
                self.run.listener.note(f"waiting: {ahead} run(s) of this pipeline ahead (concurrency.max_active={limit})")
                waiting_said = True
            try:
                if self._cancelled.wait(CONCURRENCY_POLL_SECONDS):
                    return
            except KeyboardInterrupt:
                self.cancel()
                return

    def _loop(self, pool: _InlinePool | _ThreadPool, capacity: int) -> None:
        while True:
            try:
                if self._cancelled.is_set():
                    self._cancel_remaining()
                else:
                    self._open_entries()
                    self._dispatch(pool, capacity)
                while not self._finished.empty():
                    self._complete(*self._finished.get_nowait())
                if pool.interrupted:
                    pool.interrupted = False
                    self.cancel()
                    continue
                if self._running == 0:
                    if self._cancelled.is_set():
                        self._cancel_remaining()  # a cancel may have arrived while the last task ran
                        return
                    if self.graph.done:
                        return
                    if not self.graph.ready_nodes() and not self.graph.entries_to_open():
                        raise RuntimeError("scheduler stalled: no task is running or ready (a bug; please report)")
                    continue
                node, result = self._finished.get()
                self._complete(node, result)
            except KeyboardInterrupt:
                if self._cancelled.is_set():  # second Ctrl-C: stop waiting, kill everything now
                    self.run.processes.kill_all()
                    self._cancel_remaining()
                    self._abandon_running()
                    return
                self.run.listener.note("cancelling: terminating running tasks (Ctrl-C again to kill at once)")
                self.cancel()

    def _abandon_running(self) -> None:
        now = utcnow()
        for node in self.graph.nodes():
            if not node.status.is_terminal:
                self._set_status(node, TaskRunStatus.CANCELLED, "cancelled (killed)", completed_at=now)
        self._running = 0


def _task_record(
    task: Any, task_run_id: str, planned: PlannedEntry, common: dict[str, Any], *, node: NodeRun | None = None,
    matrix_parent: bool = False,
) -> dict[str, Any]:
    depends = list(task.depends_on) or list(planned.depends_on)
    return {
        **common,
        "id": task_run_id,
        "task_id": task.task_id,
        "task_name": task.name,
        "iteration": node.iteration if node is not None else None,
        "integration": task.task.integration,
        "integration_job": task.task.integration_job,
        "task_parameters": task.task.parameters,
        "run_parameters": node.run_parameters if node is not None else {},
        "connection_id": task.task.connection,
        "matrix_parent": matrix_parent,
        "matrix_parent_id": node.parent_run_id if node is not None else None,
        "depends_on": depends,
    }
