"""What the API does, independent of HTTP: the pipeline registry, its files, and runs started in the background.

The registry (``registry.py``) lists and validates the files under ``<repo>/orchestra/``;
``pipeline_files.py`` writes them for the create/update/delete endpoints. Runs execute in
background threads, several at once; cancelling terminates their processes. The API routers
translate this module's errors into status codes.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from orchestra_local.api.pipeline_files import PipelineFiles
from orchestra_local.api.records import LOCAL_VERSION_NUMBER
from orchestra_local.api.registry import NotFoundError, PipelineFile, PipelineRegistry
from orchestra_local.engine.executor import PipelineExecution
from orchestra_local.engine.runner import prepare_run
from orchestra_local.engine.stale import CancelOutcome, RunNotFoundError, cancel_run
from orchestra_local.engine.supervisor import RunnerError, execute_supervised
from orchestra_local.errors import InvalidInputError, PipelineValidationError
from orchestra_local.settings import RunnerSettings
from orchestra_local.spec.loader import LoadedPipeline, load_file
from orchestra_local.store import RunStore
from orchestra_local.workspace import Workspace
from orchestra_local.worktrees import at_revision

__all__ = ["NotFoundError", "PipelineFile", "PipelineRegistry", "RunService", "StartOptions"]

TERMINAL_RUN_STATUSES = frozenset({"SUCCEEDED", "WARNING", "FAILED", "SKIPPED", "CANCELLED"})

log = logging.getLogger(__name__)


@dataclass
class StartOptions:
    """The start request body (Orchestra's ``WebhookRequestData``, the fields used locally)."""

    run_inputs: dict[str, Any] | None = None
    task_ids: list[str] | None = None
    continue_downstream_run: bool | None = None
    retry_from_failed: bool = False
    environment: str | None = None
    environment_overrides: dict[str, Any] | None = None
    branch: str | None = None
    commit: str | None = None
    version_number: int | None = None
    triggered_by: list[dict[str, Any]] | None = None  # local: what started it (default: WEBHOOK, the API)
    tick: dict[str, Any] | None = None  # local: a trigger's claim on its fire time (store/ticks.py)
    trigger_chain: list[dict[str, str]] | None = None  # local: runs whose ends led to this one (trigger events)


class RunService:
    """Starts, tracks and cancels runs for the API.

    Args:
        settings: Runner settings (paths, parallelism).
        store: The metadata store (shared with the routers).
        workspace: Environment, connections and secrets.
    """

    def __init__(self, settings: RunnerSettings, store: RunStore, workspace: Workspace):
        self.settings = settings
        self.store = store
        self.workspace = workspace
        self.registry = PipelineRegistry(settings.repo_root)
        self.files = PipelineFiles(self.registry)
        self._executions: dict[str, PipelineExecution] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    def load(self, pipeline: PipelineFile) -> LoadedPipeline:
        """The validated pipeline of a file, cached while the file is unchanged.

        Raises:
            PipelineValidationError: The file is not a valid pipeline.
            NotFoundError: It no longer exists.
        """
        return self.registry.load(pipeline)

    def _latest_finished_run(self, pipeline_id: str) -> str:
        for run in self.store.list_pipeline_runs(limit=50, pipeline_id=pipeline_id):
            if run["run_status"] in TERMINAL_RUN_STATUSES:
                return str(run["id"])
        raise InvalidInputError("retryFromFailed: this pipeline has no finished run to retry")

    def start(self, id_or_alias: str, options: StartOptions) -> str:
        """Check a start request, create the run and execute it in the background.

        Returns:
            The pipeline run id.

        Raises:
            NotFoundError: Unknown pipeline.
            PipelineValidationError: The file is not a valid pipeline (HTTP 422).
            InvalidInputError: Missing/unknown inputs, bad task ids, remote-only tasks, a version
                other than the file's, an unknown branch or commit (HTTP 400).
            FireTimeClaimed: ``options.tick`` was claimed already (another scheduler started it).
        """
        if options.version_number not in (None, LOCAL_VERSION_NUMBER):
            raise InvalidInputError(f"versionNumber {options.version_number}: a local pipeline has one version, "
                                    f"{LOCAL_VERSION_NUMBER} (its file on disk)")
        pipeline = self.registry.find(id_or_alias)
        # branch/commit: the run reads the pipeline and its projects from a worktree of that revision
        revision = at_revision(self.settings, pipeline.path, branch=options.branch, commit=options.commit)
        loaded = self.load(pipeline) if revision is None else load_file(revision.pipeline_path)
        overrides = {k: str(v.get("value") if isinstance(v, dict) else v)
                     for k, v in (options.environment_overrides or {}).items()}
        request = self.workspace.request(
            environment=options.environment,
            env_overrides=overrides,
            inputs=options.run_inputs or {},
            task_ids=options.task_ids or [],
            continue_downstream=bool(options.continue_downstream_run),
            retry_from_failed=self._latest_finished_run(pipeline.id) if options.retry_from_failed else None,
            triggered_by=options.triggered_by or [{"triggerType": "WEBHOOK"}],
            runner_kind="api",
            tick=options.tick,
            trigger_chain=options.trigger_chain or [],
        )
        execution = prepare_run(loaded, request, settings=self.settings if revision is None else revision.settings,
                                store=self.store, masker=self.workspace.masker)
        thread = threading.Thread(target=self._execute, args=(execution,), name=f"run-{execution.pipeline_run_id[:8]}",
                                  daemon=True)
        with self._lock:
            self._executions[execution.pipeline_run_id] = execution
            self._threads[execution.pipeline_run_id] = thread
        thread.start()
        return execution.pipeline_run_id

    def _execute(self, execution: PipelineExecution) -> None:
        try:
            execute_supervised(execution)  # an escaping error ends the run FAILED, never RUNNING forever
        except RunnerError as exc:
            log.error("%s", exc)
        finally:
            with self._lock:
                self._executions.pop(execution.pipeline_run_id, None)

    def cancel(self, pipeline_run_id: str, *, wait: float = 30.0) -> CancelOutcome:
        """Cancel a run, whoever started it; returns once it has ended or after ``wait`` seconds.

        A run of this server is cancelled directly; a run of another process through
        ``stale.cancel_run`` (its live runner is asked to cancel; what a dead runner left is killed).

        Returns:
            The run's status afterwards, and whether it has ended.

        Raises:
            NotFoundError: Unknown run.
            InvalidInputError: The run already finished, or runs on another host.
        """
        record = self.store.get_pipeline_run(pipeline_run_id)
        if record is None:
            raise NotFoundError("Pipeline run not found")
        if record["run_status"] in TERMINAL_RUN_STATUSES:
            raise InvalidInputError(f"Pipeline run is already {record['run_status']}")
        with self._lock:
            execution = self._executions.get(pipeline_run_id)
            thread = self._threads.get(pipeline_run_id)
        if execution is None or thread is None:
            try:
                return cancel_run(self.store, pipeline_run_id, wait_seconds=wait)
            except RunNotFoundError:
                raise NotFoundError("Pipeline run not found") from None
        self.store.request_cancel(pipeline_run_id)
        execution.cancel()
        thread.join(timeout=wait)
        after = self.store.get_pipeline_run(pipeline_run_id)
        status = after["run_status"] if after is not None else "CANCELLED"
        return CancelOutcome(status, status in TERMINAL_RUN_STATUSES, f"cancelled: {status}")

    def wait(self, pipeline_run_id: str, timeout: float | None = None) -> None:
        """Block until a run started here has ended (tests and shutdown)."""
        with self._lock:
            thread = self._threads.get(pipeline_run_id)
        if thread is not None:
            thread.join(timeout=timeout)

    def shutdown(self) -> None:
        """Cancel every run still executing and wait for them (server shutdown)."""
        with self._lock:
            running = list(self._executions.values())
        for execution in running:
            execution.cancel()
        for execution in running:
            self.wait(execution.pipeline_run_id, timeout=30)

    def latest_run(self, pipeline_id: str) -> dict[str, Any] | None:
        """The newest run of one pipeline (a store row), or None."""
        runs = self.store.list_pipeline_runs(limit=1, pipeline_id=pipeline_id)
        return runs[0] if runs else None

    def latest_runs(self) -> dict[str, dict[str, Any]]:
        """The newest run of each pipeline id."""
        latest: dict[str, dict[str, Any]] = {}
        for run in self.store.list_pipeline_runs(limit=500):
            latest.setdefault(run["pipeline_id"], run)
        return latest


def validation_detail(exc: PipelineValidationError) -> list[dict[str, Any]]:
    """Orchestra's 422 ``detail`` items for a validation error (with the line when known)."""
    return [problem.as_detail() for problem in exc.problems]
