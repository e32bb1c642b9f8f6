"""Starting a pipeline run: check everything first, then create the run's records.

Everything that can be wrong with a start request (run inputs, matrix expressions over inputs,
remote-only integrations) is found before any record is written, as Orchestra answers such a
request with 400 and creates no run.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestra_local.connections import Connection
from orchestra_local.engine.attempts import RunContext
from orchestra_local.engine.events import RunListener
from orchestra_local.engine.executor import PipelineExecution
from orchestra_local.engine.graph import EntryRun, RunGraph
from orchestra_local.engine.inputs import resolve_inputs
from orchestra_local.engine.plan import Plan, build_plan
from orchestra_local.engine.process_groups import refuse_while_running, store_recorder, this_runner
from orchestra_local.engine.restarts import RunSelection, retry_from_failed, select_tasks
from orchestra_local.errors import InvalidInputError, RemoteOnlyIntegrationError
from orchestra_local.expressions import Scope
from orchestra_local.integrations.process import ProcessRegistry
from orchestra_local.masking import Masker
from orchestra_local.settings import RunnerSettings
from orchestra_local.spec.loader import LoadedPipeline
from orchestra_local.store import RunStore, new_id, utcnow

PIPELINE_ID_NAMESPACE = uuid.UUID("6f1c1c52-9b53-4c39-8d3e-1f2a1c0de001")


def pipeline_identity(path: Path, repo_root: Path) -> tuple[str, str, str]:
    """``(pipeline_id, alias, yaml_path)`` of a pipeline file.

    The id is a uuid5 of the repo-relative path, so it is stable across runs and machines; the
    alias is the file stem, as the API addresses pipelines.
    """
    try:
        relative = path.resolve().relative_to(repo_root).as_posix()
    except ValueError:
        relative = path.resolve().as_posix()
    return str(uuid.uuid5(PIPELINE_ID_NAMESPACE, relative)), path.stem, relative


def git_head(repo_root: Path) -> tuple[str | None, str | None]:
    """``(branch, commit)`` of the repository's checked-out HEAD, read from ``.git`` (None if absent)."""
    git = repo_root / ".git"
    head_file = git / "HEAD"
    if not head_file.is_file():
        return None, None
    head = head_file.read_text(encoding="utf-8").strip()
    if not head.startswith("ref: "):
        return None, head
    ref = head[5:]
    branch = ref.removeprefix("refs/heads/")
    ref_file = git / ref
    if ref_file.is_file():
        return branch, ref_file.read_text(encoding="utf-8").strip()
    packed = git / "packed-refs"
    if packed.is_file():
        for line in packed.read_text(encoding="utf-8").splitlines():
            if line.endswith(" " + ref):
                return branch, line.split(" ", 1)[0]
    return branch, None


@dataclass
class RunRequest:
    """A request to start a pipeline run.

    Attributes:
        inputs: Run inputs as given (CLI text values or API JSON values).
        env: Environment for ``${{ ENV.X }}`` and the tasks' processes.
        skip_remote: Record remote-only tasks SKIPPED instead of refusing to run.
        triggered_by: Orchestra's ``triggeredBy`` entries (default: one MANUAL trigger).
        connections: Connections by name (from the connections file).
        task_ids: Run only these tasks (Orchestra's ``taskIds``); empty runs all.
        continue_downstream: With ``task_ids``, also run what depends on them.
        retry_from_failed: Id of an earlier run of this pipeline whose failed and skipped tasks
            run again, with its inputs; its succeeded tasks are reused.
        environment: Name of the selected environment, recorded on the run.
        runner_kind: ``cli`` or ``api``: which kind of process executes the run (for ``cancel``).
        tick: For a run a trigger starts: the tick claiming its fire time (``pipeline_alias``,
            ``trigger_kind``, ``trigger_name``, ``scheduled_for``; ``store/ticks.py``), written in the
            run's own transaction; ``prepare_run`` raises ``FireTimeClaimed`` when it was already.
        trigger_chain: For a run a trigger event starts: the runs (``{id, alias}``) whose ends led
            to it, recorded in the run's ``data`` (``scheduling/trigger_events.py`` bounds loops with it).
    """

    inputs: Mapping[str, Any] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    skip_remote: bool = False
    triggered_by: list[dict[str, Any]] = field(default_factory=lambda: [{"triggerType": "MANUAL"}])
    connections: Mapping[str, Connection] = field(default_factory=dict)
    task_ids: list[str] = field(default_factory=list)
    continue_downstream: bool = False
    retry_from_failed: str | None = None
    environment: str | None = None
    runner_kind: str = "cli"
    tick: Mapping[str, Any] | None = None
    trigger_chain: list[dict[str, str]] = field(default_factory=list)


def remote_only_list(plan: Plan) -> str:
    """The plan's remote-only tasks as ``group.task (INTEGRATION/JOB); ...`` (empty when none): the
    list ``run`` refuses with, and ``export`` too."""
    return "; ".join(
        f"{entry_id}.{task.task_id} ({task.task.integration}/{task.task.integration_job})"
        for entry_id, task in plan.remote_only()
    )


def _remote_only_error(plan: Plan) -> RemoteOnlyIntegrationError:
    return RemoteOnlyIntegrationError(
        f"these tasks use integrations that only run on hosted Orchestra: {remote_only_list(plan)}. "
        "Run with --skip-remote to record them SKIPPED and run the rest."
    )


def _max_active(loaded: LoadedPipeline) -> int | None:
    """``configuration.concurrency.max_active`` (values below 1, a validation warning, count as 1)."""
    config = loaded.model.configuration
    if config is None or config.concurrency is None or config.concurrency.max_active is None:
        return None
    return max(1, config.concurrency.max_active)


def _restart(request: RunRequest, store: RunStore, pipeline_id: str) -> tuple[Mapping[str, Any], RunSelection, list[dict[str, Any]]]:
    """Inputs, selection and ``triggeredBy`` of a start request, per its restart options.

    Raises:
        InvalidInputError: Incompatible options, or a run that cannot be retried.
    """
    if request.retry_from_failed and request.task_ids:
        raise InvalidInputError("choose either task ids or retry-from-failed, not both")
    if request.retry_from_failed:
        if request.inputs:
            raise InvalidInputError("a retry-from-failed run uses the original run's inputs; do not give inputs")
        inputs, selection = retry_from_failed(store, request.retry_from_failed, pipeline_id)
        refuse_while_running(store, request.retry_from_failed)  # never two attempts of one task at once
        return inputs, selection, [{"triggerType": "RESTART_FROM_FAILED", "pipelineRunId": request.retry_from_failed}]
    if request.task_ids:
        trigger = {"triggerType": "RESTART_FROM_TASKS", "runTaskIds": list(request.task_ids),
                   "continueDownstreamRun": request.continue_downstream}
        return request.inputs, RunSelection(), [trigger]
    return request.inputs, RunSelection(), request.triggered_by


def prepare_run(
    loaded: LoadedPipeline,
    request: RunRequest,
    *,
    settings: RunnerSettings,
    store: RunStore,
    listener: RunListener | None = None,
    masker: Masker | None = None,
) -> PipelineExecution:
    """Check a start request and create the pipeline run with its task runs (status CREATED).

    Returns:
        The execution; call ``execute()`` to run it.

    Raises:
        RunInputError: Missing, unknown or mistyped run inputs.
        PipelineValidationError: A matrix expression over inputs fails.
        RemoteOnlyIntegrationError: Remote-only tasks and ``skip_remote`` is off.
    """
    pipeline_id, alias, yaml_path = pipeline_identity(loaded.path, settings.repo_root)
    ref = settings.git_ref  # a run of a requested branch/commit (worktrees.py)
    branch, commit = (ref.branch, ref.commit) if ref is not None else git_head(settings.repo_root)
    pipeline_run_id = new_id()
    started = utcnow()
    orchestra = {
        "PIPELINE_RUN_ID": pipeline_run_id,
        "PIPELINE_RUN_STARTED_AT": started.isoformat(),
        "CURRENT_BRANCH": branch or "",
    }
    base_scope = Scope(env=request.env, orchestra={**orchestra, "CURRENT_TIME": started.isoformat()})
    given_inputs, selection, triggered_by = _restart(request, store, pipeline_id)
    inputs = resolve_inputs(loaded.model, given_inputs, base_scope)
    plan = build_plan(loaded.model, Scope(inputs=inputs, env=request.env, orchestra=base_scope.orchestra))
    if request.task_ids:
        selection = select_tasks(plan, request.task_ids, continue_downstream=request.continue_downstream)
    if plan.remote_only() and not request.skip_remote:
        raise _remote_only_error(plan)
    entries = [EntryRun(planned=entry) for entry in plan.entries]
    run = RunContext(
        pipeline_run_id=pipeline_run_id,
        pipeline_id=pipeline_id,
        settings=settings,
        store=store,
        graph=RunGraph(entries, selection),
        inputs=inputs,
        base_env=dict(request.env),
        orchestra=orchestra,
        processes=ProcessRegistry(recorder=store_recorder(store, pipeline_run_id)),
        masker=masker or store.masker,
        listener=listener or RunListener(),
        skip_remote=request.skip_remote,
        connections=request.connections,
        max_active=_max_active(loaded),
        alerts=tuple(loaded.model.alerts or ()),
    )
    store.create_pipeline_run(
        id=pipeline_run_id,
        pipeline_id=pipeline_id,
        pipeline_name=loaded.model.name,
        pipeline_alias=alias,
        yaml_path=yaml_path,
        branch=branch,
        commit=commit,
        triggered_by=triggered_by,
        run_inputs=inputs,
        env_name=request.environment,
        data={"plan": [entry.entry_id for entry in plan.entries],
              "runner": this_runner(request.runner_kind),  # pid + start time: see process_groups.py
              # the definition this run executes, camelCase: the API's PipelineRunModel (``data``)
              "definition": loaded.model.model_dump(mode="json", by_alias=True, exclude_unset=True),
              **({"trigger_chain": request.trigger_chain} if request.trigger_chain else {})},
        tick=request.tick,
    )
    execution = PipelineExecution(run, entries)
    for entry in entries:
        execution.materialize(entry, entry.planned.matrix_values)
    run.listener.run_started(pipeline_run_id, plan)
    return execution
