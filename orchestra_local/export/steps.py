"""One task run of an exported job: decide it, run one attempt through the runner's own code.

Target-independent: the Dagster module (and an Airflow one) calls :meth:`ExportedPipeline.step`
from inside its op/task. The step rebuilds the run graph from the state it received
(:mod:`.run_state`), lets :meth:`RunGraph.decide` skip it (a false condition, an upstream that did
not succeed, a paused task) exactly as ``orchestra-local run`` does, and otherwise runs ONE attempt
with :func:`orchestra_local.engine.attempts.run_attempt`: parameters substituted per kind, the
integration module, pools, the task's ``timeout`` (seconds) enforced by the integration. Retries
are the target engine's (``retries``, ``retry_delay`` minutes, see :attr:`StepSpec.retry_delay_seconds`).

What ``orchestra-local run`` keeps in its metadata store, an exported step keeps in memory
(:class:`AttemptRecorder`) and hands to the target's event log: log files, resolved parameters,
external status. Logs and artifacts stay under ``<state dir>/runs/<job run id>/<task run id>/``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestra_local.engine.attempts import RunContext, run_attempt
from orchestra_local.engine.events import RunListener
from orchestra_local.engine.graph import Decision, NodeRun
from orchestra_local.engine.inputs import resolve_inputs
from orchestra_local.engine.plan import Plan, PlannedEntry, PlannedTask, build_plan
from orchestra_local.engine.runner import git_head, pipeline_identity, remote_only_list
from orchestra_local.errors import RemoteOnlyIntegrationError
from orchestra_local.export.run_state import State, find_node, node_label, rebuild_graph, with_node
from orchestra_local.expressions import Scope
from orchestra_local.integrations import local_integration
from orchestra_local.integrations.base import TaskResult
from orchestra_local.integrations.process import ProcessRegistry
from orchestra_local.settings import resolve_settings
from orchestra_local.spec.loader import LoadedPipeline
from orchestra_local.spec.statuses import TaskRunStatus
from orchestra_local.webhook import WebhookReceiver
from orchestra_local.workspace import Workspace

RUNNER_ONLY = {("ORCHESTRA", "APPROVAL"): "waits for `orchestra-local approve`, which only the local runner's store "
                                          "receives"}
"""Jobs that run locally but only under ``orchestra-local``: an export refuses them too."""

MAX_LOG_CHARS = 200_000
"""Most characters of one log file copied into the target's event log (the end is kept)."""


class AttemptRecorder:
    """In-memory :class:`~orchestra_local.engine.attempts.AttemptRecords` of one step.

    Attributes:
        files: ``(kind, filename, path)`` of every log and artifact the attempt wrote, in order.
        fields: The task run's fields as the attempt set them (``task_parameters``, ``message``, ...).
    """

    def __init__(self) -> None:
        self.files: list[tuple[str, str, Path]] = []
        self.fields: dict[str, Any] = {}

    def update_task_run(self, task_run_id: str, **fields: Any) -> None:
        """Keep the fields (the last value of each wins)."""
        self.fields.update(fields)

    def add_file(self, task_run_id: str, kind: str, filename: str, path: str, attempt: int | None = None, *,
                 defer: bool = False) -> None:
        """Keep the file, at once whatever ``defer`` says (it is read after the attempt, see
        :meth:`StepOutcome.logs`)."""
        self.files.append((kind, filename, Path(path)))

    def external_status(self, task_run_id: str) -> tuple[str | None, str | None]:
        """The external status the attempt itself recorded (no other process can change it)."""
        return self.fields.get("external_status"), self.fields.get("external_message")


class _LogListener(RunListener):
    def __init__(self, log: Callable[[str], None]):
        self._log = log

    def note(self, message: str) -> None:
        self._log(message)


@dataclass
class StepOutcome:
    """How one step ended.

    Attributes:
        node: The task run, its final status, message, outputs and attempts set.
        state: The state to hand downstream (the received one plus this task run).
        ran: False when the gating rules decided without running (SKIPPED, or FAILED condition).
        retryable: With FAILED: whether another attempt can help.
        operations: Operation records of the attempt (dbt nodes, ingested tables).
        files: ``(kind, filename, path)`` of the attempt's logs and artifacts.
    """

    node: NodeRun
    state: State
    ran: bool
    retryable: bool = False
    operations: list[dict[str, Any]] = field(default_factory=list)
    files: list[tuple[str, str, Path]] = field(default_factory=list)

    def logs(self) -> list[tuple[str, str]]:
        """``(filename, text)`` of each log file (masked when written), at most ``MAX_LOG_CHARS`` each."""
        out = []
        for kind, filename, path in self.files:
            if kind == "log" and path.is_file():
                text = path.read_text(encoding="utf-8", errors="replace")
                out.append((filename, text[-MAX_LOG_CHARS:]))
        return out


@dataclass(frozen=True)
class StepSpec:
    """One task of the plan as a step: where it is, and what the target must know about it.

    Attributes:
        entry: Its entry (task group or standalone task).
        task: The planned task.
        matrix_value: Its iteration's value in a matrix known before the run (None otherwise).
        retry_delay_seconds: ``retry_delay`` minutes x 60 x ``ORCHESTRA_LOCAL_RETRY_DELAY_SCALE``.
    """

    entry: PlannedEntry
    task: PlannedTask
    matrix_value: Any
    retry_delay_seconds: float


class ExportedPipeline:
    """A pipeline file as an exported job sees it: its plan (matrix expressions left to run time),
    its ids, and how one of its task runs executes.

    Raises:
        RemoteOnlyIntegrationError: Tasks use integrations that only run on hosted Orchestra (the
            list ``orchestra-local run`` gives), or only under ``orchestra-local`` (APPROVAL).
    """

    def __init__(self, loaded: LoadedPipeline):
        self.loaded = loaded
        self.settings = resolve_settings(loaded.path)
        self.pipeline_id, self.alias, self.yaml_path = pipeline_identity(loaded.path, self.settings.repo_root)
        self.plan: Plan = build_plan(loaded.model, Scope(), expand_expressions=False)
        refused = remote_only_list(self.plan)
        runner_only = [f"{e.entry_id}.{t.task_id} ({t.task.integration}/{t.task.integration_job}: {why})"
                       for e in self.plan.entries for t in e.tasks
                       if (why := RUNNER_ONLY.get((t.task.integration.upper(), t.task.integration_job.upper())))]
        if refused or runner_only:
            parts = ([f"these tasks use integrations that only run on hosted Orchestra: {refused}"] if refused else [])
            parts += [f"these tasks only run under orchestra-local: {'; '.join(runner_only)}"] if runner_only else []
            raise RemoteOnlyIntegrationError(f"{self.yaml_path}: cannot export: " + ". ".join(parts))

    def spec(self, entry: PlannedEntry, task: PlannedTask, matrix_value: Any = None) -> StepSpec:
        """The :class:`StepSpec` of a task (and static matrix value)."""
        delay = task.configuration.retry_delay_minutes * 60 * self.settings.retry_delay_scale
        return StepSpec(entry, task, matrix_value, delay)

    def run_context(self, pipeline_run_id: str, started_at: datetime, given_inputs: Mapping[str, Any],
                    state: State, log: Callable[[str], None]) -> RunContext:
        """The :class:`RunContext` of a job run as one step sees it.

        Args:
            pipeline_run_id: The target's run id (Dagster's run id), used as Orchestra's.
            started_at: When the job run started (``ORCHESTRA.PIPELINE_RUN_STARTED_AT``).
            given_inputs: Run inputs from the run's config (defaults applied here).
            state: What upstream steps passed.
            log: Where remarks go (the target's event log).

        Raises:
            RunInputError: Missing, unknown or mistyped run inputs (Orchestra's messages).
            InvalidInputError, PipelineValidationError: An invalid env, connections or
                environments file at the repository root.
        """
        settings = self.settings
        workspace = Workspace.load(settings.repo_root)
        request = workspace.request(inputs=given_inputs)
        branch, _commit = git_head(settings.repo_root)
        orchestra = {"PIPELINE_RUN_ID": pipeline_run_id, "PIPELINE_RUN_STARTED_AT": started_at.isoformat(),
                     "CURRENT_BRANCH": branch or ""}
        scope = Scope(env=request.env, orchestra={**orchestra, "CURRENT_TIME": datetime.now(UTC).isoformat()})
        inputs = resolve_inputs(self.loaded.model, request.inputs, scope)
        return RunContext(
            pipeline_run_id=pipeline_run_id, pipeline_id=self.pipeline_id, settings=settings,
            store=AttemptRecorder(),  # type: ignore[arg-type]  # run_attempt uses only AttemptRecords
            graph=rebuild_graph(self.plan, state, pipeline_run_id), inputs=inputs, base_env=dict(request.env),
            orchestra=orchestra, processes=ProcessRegistry(), masker=workspace.masker, listener=_LogListener(log),
            connections=request.connections,
        )

    def step(self, run: RunContext, spec: StepSpec, state: State, attempt: int,
             matrix_value: Any = None) -> StepOutcome:
        """Decide and, if it runs, execute one attempt of one task run.

        Args:
            run: From :meth:`run_context` (with the same ``state``).
            spec: The task.
            state: What upstream steps passed.
            attempt: 1-based attempt number (the target's retry number + 1).
            matrix_value: The iteration's value (a static matrix: ``spec.matrix_value``).

        Returns:
            The outcome; FAILED outcomes say whether a retry can help. ``treat_failure_as_warning``
            is NOT applied here: only the last attempt may turn a failure into WARNING (the
            caller knows which attempt is the last).
        """
        value = spec.matrix_value if spec.entry.matrix_values is not None else matrix_value
        node = find_node(run.graph, spec.entry.entry_id, spec.task.task_id, value)
        label = node_label(spec.entry, spec.task.task_id, value)
        decision: Decision = run.graph.decide(node, run.scope(node), skip_remote=False)
        if decision.status is not None:
            node.status, node.message, node.counts_as_ok = decision.status, decision.message, decision.counts_as_ok
            node.outputs = dict(decision.outputs)
            return StepOutcome(node, with_node(state, label, node), ran=False)
        module = local_integration(spec.task.task.integration, spec.task.task.integration_job)
        assert module is not None, "remote-only tasks are refused when the pipeline is exported"
        node.attempts = attempt
        recorder: AttemptRecorder = run.store  # type: ignore[assignment]

        def mark_running(**fields: Any) -> None:  # the resolved parameters, kept as the runner records them
            recorder.update_task_run(node.task_run_id, **fields)

        with WebhookReceiver() as webhook:  # the unmodified orchestra-sdk posts outputs here
            run.webhook = webhook
            run.masker.add(webhook.token)
            try:
                result: TaskResult = run_attempt(run, node, module, attempt, mark_running)
            finally:
                run.webhook = None
        node.status, node.message, node.outputs = result.status, result.message, dict(result.outputs)
        return StepOutcome(node, with_node(state, label, node), ran=True, retryable=result.retryable,
                           operations=list(result.operations), files=list(recorder.files))


def as_warning(outcome: StepOutcome) -> StepOutcome:
    """A FAILED outcome of a task with ``treat_failure_as_warning`` as the WARNING it ends in."""
    node = outcome.node
    node.status, node.message = TaskRunStatus.WARNING, f"failed, treated as a warning: {node.message}"
    label = next(k for k, r in outcome.state["tasks"].items() if r["task_run_id"] == node.task_run_id)
    return StepOutcome(node, with_node(outcome.state, label, node), ran=True, operations=outcome.operations,
                       files=outcome.files)
