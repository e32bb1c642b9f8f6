"""Executing one node: resolve its parameters, run attempts through its integration, retry.

Runs in a worker thread (or inline in the sequential path). Retries follow the task's effective
configuration: ``retries`` extra attempts, ``retry_delay`` **minutes** apart (scaled by the
settings' ``retry_delay_scale``), each attempt limited to ``timeout`` **seconds**. Each attempt
first takes the pools its task claims (``pool_waits.py``: QUEUED with the reason while it waits);
its timeout counts from when it holds them and is RUNNING.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType
from typing import Any, Protocol

import pydantic

from orchestra_local.connections import Connection
from orchestra_local.engine.events import RunListener
from orchestra_local.engine.graph import NodeRun, NodeRunState, RunGraph
from orchestra_local.engine.parameters import resolve_parameters
from orchestra_local.engine.pool_waits import pools_held
from orchestra_local.engine.pools import PoolWaitCancelled
from orchestra_local.errors import ExpressionError, IntegrationError, InvalidParametersError
from orchestra_local.expressions import Scope, substitute
from orchestra_local.integrations import local_integration
from orchestra_local.integrations.base import TaskContext, TaskResult
from orchestra_local.integrations.process import ProcessRegistry
from orchestra_local.masking import Masker
from orchestra_local.settings import RunnerSettings
from orchestra_local.spec.models import Alert
from orchestra_local.spec.statuses import TaskRunStatus
from orchestra_local.store import RunStore, utcnow
from orchestra_local.webhook import WebhookReceiver


class AttemptRecords(Protocol):
    """What :func:`run_attempt` records about an attempt: the part of :class:`RunStore` it uses."""

    def update_task_run(self, task_run_id: str, **fields: Any) -> None:
        """Set fields of a task run (``task_parameters``, ``message``, ``external_status``, ...)."""

    def add_file(self, task_run_id: str, kind: str, filename: str, path: str, attempt: int, *,
                 defer: bool = False) -> None:
        """Register a log (``kind="log"``) or an artifact written at ``path`` (``defer``: with the next
        write, where the records are a database's)."""

    def external_status(self, task_run_id: str) -> tuple[str | None, str | None]:
        """``(external_status, external_message)`` of the task run as recorded now."""


@dataclass
class RunContext:
    """What every node of one pipeline run shares.

    Attributes:
        pipeline_run_id: Id of the run.
        pipeline_id: Stable id of the pipeline.
        settings: Runner settings (paths, parallelism, retry delay scale).
        store: The metadata store.
        graph: Runtime state of the run (for expressions).
        inputs: Resolved run inputs.
        base_env: Environment snapshot for tasks (process environment plus env file).
        orchestra: Fixed ``ORCHESTRA.*`` values (PIPELINE_RUN_ID, PIPELINE_RUN_STARTED_AT, CURRENT_BRANCH).
        processes: Child processes, for cancellation.
        masker: Secrets to mask.
        listener: Progress events.
        skip_remote: Record remote-only tasks SKIPPED instead of refusing the run.
        connections: Connections by name, for tasks that link one.
        webhook: The run's SDK webhook receiver, while the run executes.
        max_active: ``configuration.concurrency.max_active`` of the pipeline (None = unlimited).
        alerts: The pipeline's ``alerts`` (task-level ones are on each task's model).
    """

    pipeline_run_id: str
    pipeline_id: str
    settings: RunnerSettings
    store: RunStore
    graph: RunGraph
    inputs: Mapping[str, Any]
    base_env: Mapping[str, str]
    orchestra: Mapping[str, Any]
    processes: ProcessRegistry
    masker: Masker
    listener: RunListener
    skip_remote: bool = False
    connections: Mapping[str, Connection] = field(default_factory=dict)
    webhook: WebhookReceiver | None = None
    max_active: int | None = None
    alerts: Sequence[Alert] = ()

    def scope(self, node: NodeRun | None) -> Scope:
        """The expression scope of a node (or of the run, for ``node=None``)."""
        orchestra = {**self.orchestra, "CURRENT_TIME": utcnow().isoformat()}
        if node is not None:
            orchestra["TASK_RUN_ID"] = node.task_run_id
        matrix = {node.matrix_key: node.matrix_value} if node is not None and node.matrix_key else None
        return Scope(
            inputs=self.inputs, env=self.base_env, matrix=matrix, orchestra=orchestra,
            run_state=NodeRunState(self.graph, node),
        )

    def orchestra_env(self, node: NodeRun) -> dict[str, str]:
        """``ORCHESTRA_*`` variables of a task's process (orchestra-contract section 4)."""
        env = {"ORCHESTRA_PIPELINE_RUN_ID": self.pipeline_run_id, "ORCHESTRA_TASK_RUN_ID": node.task_run_id}
        if self.webhook is not None:
            env.update({"ORCHESTRA_WEBHOOK_URL": self.webhook.url, "ORCHESTRA_API_KEY": self.webhook.token})
        return env


def _resolve_parameters(run: RunContext, node: NodeRun, module: ModuleType) -> dict[str, Any]:
    shell: frozenset[str] = getattr(module, "SHELL_PARAMETERS", frozenset())
    where = f"pipeline.{node.entry_id}.tasks.{node.task.task_id}.parameters"
    return resolve_parameters(node.task.task.parameters, run.scope(node), where, shell)


def _parameter_error(exc: pydantic.ValidationError, node: NodeRun) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        field = ".".join(str(p) for p in error["loc"]) or "parameters"
        parts.append(f"{field}: {error['msg']}")
    return f"invalid parameters for {node.task.task.integration_job}: " + "; ".join(parts)


def _connection(run: RunContext, node: NodeRun) -> Connection | None:
    """The task's linked connection (its name may be an expression such as ``${{ ENV.X }}``).

    Raises:
        ExpressionError: The name's expression fails.
        IntegrationError: No connection of that name is defined.
    """
    name = node.task.task.connection
    if not name:
        return None
    where = f"pipeline.{node.entry_id}.tasks.{node.task.task_id}.connection"
    name = substitute(name, run.scope(node), where)
    if name not in run.connections:
        known = ", ".join(sorted(run.connections)) or "none"
        raise InvalidParametersError(f"connection '{name}' is not defined in the connections file (defined: {known})")
    return run.connections[name]


def run_attempt(
    run: RunContext, node: NodeRun, module: ModuleType, attempt: int, mark_running: Callable[..., None]
) -> TaskResult:
    """One attempt: resolve, take the task's pools (QUEUED while waiting), ``mark_running``, execute.

    The one code path that runs a task attempt, shared by :func:`run_node` and by the exported
    Dagster/Airflow jobs (``orchestra_local/export/``), which retry through their own engine. Of
    ``run.store`` it calls only ``update_task_run``, ``add_file`` and ``external_status``
    (:class:`AttemptRecords`), so an exported job records into its own event log instead of a
    :class:`RunStore`.

    Args:
        run: The run (its ``graph`` must hold ``node`` and every task the node's expressions read).
        node: The task run; ``node.attempts`` is the current attempt.
        module: The task's integration module (``integrations.local_integration``).
        attempt: 1-based attempt number.
        mark_running: ``mark_running(**fields)``, called once the attempt holds its pools (or failed
            before it could), with task-run ``fields`` to record in the same write as RUNNING (the
            resolved ``task_parameters``, once they are known).

    Returns:
        The attempt's result; errors of parameters, connections and integrations become FAILED
        results (``retryable`` False where another attempt cannot help), never exceptions.
    """
    try:
        resolved = _resolve_parameters(run, node, module)
        connection = _connection(run, node)
    except ExpressionError as exc:
        mark_running()
        return TaskResult(TaskRunStatus.FAILED, str(exc), retryable=False)
    except IntegrationError as exc:
        mark_running()
        return TaskResult(TaskRunStatus.FAILED, str(exc), retryable=exc.retryable)
    try:
        params = module.Parameters.model_validate(resolved)
    except pydantic.ValidationError as exc:
        mark_running()
        return TaskResult(TaskRunStatus.FAILED, _parameter_error(exc, node), retryable=False)
    run_dir = run.settings.runs_dir / run.pipeline_run_id / node.task_run_id
    ctx = TaskContext(
        pipeline_run_id=run.pipeline_run_id,
        task_run_id=node.task_run_id,
        task_id=node.task.task_id,
        integration=node.task.task.integration,
        integration_job=node.task.task.integration_job,
        attempt=attempt,
        repo_root=run.settings.repo_root,
        state_dir=run.settings.state_dir,
        run_dir=run_dir,
        base_env=run.base_env,
        orchestra_env=run.orchestra_env(node),
        timeout=node.task.configuration.timeout_seconds,
        processes=run.processes.for_attempt(node.task_run_id, attempt),  # records its groups as this attempt's
        masker=run.masker,
        record_file=lambda kind, filename, path: run.store.add_file(node.task_run_id, kind, filename, str(path), attempt,
                                                                    defer=True),
        connection=connection,
        note=run.listener.note,
        webhook=run.webhook,
        update_external=lambda status, message: run.store.update_task_run(
            node.task_run_id, external_status=status, external_message=message),
        read_external=lambda: run.store.external_status(node.task_run_id),
        python=run.settings.python,
    )
    try:
        with pools_held(run, node, ctx, params):
            mark_running(task_parameters=resolved)
            return module.execute(ctx, params)
    except PoolWaitCancelled as exc:
        run.store.update_task_run(node.task_run_id, task_parameters=resolved)
        return TaskResult(TaskRunStatus.CANCELLED, str(exc))
    except IntegrationError as exc:
        mark_running(task_parameters=resolved)
        return TaskResult(TaskRunStatus.FAILED, str(exc), retryable=exc.retryable)
    except Exception as exc:  # noqa: BLE001 - an integration bug must fail the task, with its traceback kept
        mark_running(task_parameters=resolved)
        log = ctx.log_path("runner-error")
        log.write_text(run.masker.mask(traceback.format_exc()), encoding="utf-8")
        return TaskResult(TaskRunStatus.FAILED, f"internal error in {node.task.task.integration_job}: "
                                                 f"{type(exc).__name__}: {exc} (traceback in {log.name})")


def run_node(run: RunContext, node: NodeRun) -> TaskResult:
    """Run a node's attempts until one does not fail, retries run out, or the run is cancelled.

    Returns:
        The last attempt's result (``treat_failure_as_warning`` is applied by the caller).
    """
    module = local_integration(node.task.task.integration, node.task.task.integration_job)
    if module is None:  # the executor only schedules local tasks; keep the message if that changes
        return TaskResult(TaskRunStatus.FAILED, f"{node.task.task.integration} cannot run locally", retryable=False)
    config = node.task.configuration
    started: list[datetime] = []  # when the first attempt started RUNNING
    marked: set[int] = set()

    def mark_running(**extra: Any) -> None:
        """Record the current attempt RUNNING (with ``extra`` fields), once: when it holds its pools, or
        fails before it could (a second call of the same attempt writes nothing)."""
        if node.attempts in marked:
            return
        marked.add(node.attempts)
        node.status = TaskRunStatus.RUNNING
        fields: dict[str, Any] = {**extra, "status": TaskRunStatus.RUNNING.value, "number_of_attempts": node.attempts}
        if not started:
            started.append(utcnow())
            fields["started_at"] = started[0]
        run.store.update_task_run(node.task_run_id, **fields)
        run.listener.node_changed(node)

    result = TaskResult(TaskRunStatus.CANCELLED, "cancelled before it started")
    for attempt in range(1, config.retries + 2):
        if run.processes.cancelled.is_set():
            return TaskResult(TaskRunStatus.CANCELLED, "cancelled")
        node.attempts = attempt
        result = run_attempt(run, node, module, attempt, mark_running)
        if result.status != TaskRunStatus.FAILED or not result.retryable or attempt > config.retries:
            return result
        delay = config.retry_delay_minutes * 60 * run.settings.retry_delay_scale
        node.message = f"attempt {attempt} failed ({result.message}); retrying in {delay:g}s"
        run.store.update_task_run(node.task_run_id, message=node.message)
        run.listener.note(f"{node.label}: {node.message}")
        if run.processes.cancelled.wait(delay):
            return TaskResult(TaskRunStatus.CANCELLED, f"cancelled while waiting to retry after: {result.message}")
    return result
