"""What the API does, independent of HTTP: the pipeline registry and runs started in the background.

Pipelines are the files under ``<repo>/orchestra/`` (``**/*.yml``/``*.yaml``); a pipeline's alias
is its file stem and its id a uuid5 of its repo-relative path (stable across restarts and
machines). Runs execute in background threads, several at once; cancelling terminates their
processes. The API routers translate this module's errors into status codes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestra_local.engine.executor import PipelineExecution
from orchestra_local.engine.runner import pipeline_identity, prepare_run
from orchestra_local.errors import InvalidInputError, PipelineValidationError
from orchestra_local.settings import RunnerSettings
from orchestra_local.spec.loader import LoadedPipeline, load_file
from orchestra_local.store import RunStore
from orchestra_local.workspace import Workspace

TERMINAL_RUN_STATUSES = frozenset({"SUCCEEDED", "WARNING", "FAILED", "SKIPPED", "CANCELLED"})


class NotFoundError(LookupError):
    """The addressed pipeline, run or file does not exist (HTTP 404)."""


@dataclass(frozen=True)
class PipelineFile:
    """One pipeline of the registry."""

    id: str
    alias: str
    path: Path
    yaml_path: str

    def modified_at(self) -> datetime:
        """The file's modification time (UTC)."""
        return datetime.fromtimestamp(self.path.stat().st_mtime, tz=UTC)


class PipelineRegistry:
    """The pipelines under ``<repo>/orchestra`` (read from disk on every call: edits show at once)."""

    def __init__(self, repo_root: Path, folder: str = "orchestra"):
        self.repo_root = repo_root
        self.folder = repo_root / folder

    def all(self) -> list[PipelineFile]:
        """Every pipeline file, sorted by path."""
        files = sorted(p for p in self.folder.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())
        pipelines = []
        for path in files:
            pipeline_id, alias, yaml_path = pipeline_identity(path, self.repo_root)
            pipelines.append(PipelineFile(pipeline_id, alias, path, yaml_path))
        return pipelines

    def find(self, id_or_alias: str) -> PipelineFile:
        """The pipeline with this id or alias.

        Raises:
            NotFoundError: When there is none.
        """
        for pipeline in self.all():
            if id_or_alias in (pipeline.id, pipeline.alias):
                return pipeline
        raise NotFoundError("Pipeline not found")


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
        self._executions: dict[str, PipelineExecution] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    def load(self, pipeline: PipelineFile) -> LoadedPipeline:
        """Validate and load a pipeline file (``PipelineValidationError`` when invalid)."""
        return load_file(pipeline.path)

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
            InvalidInputError: Missing/unknown inputs, bad task ids, remote-only tasks (HTTP 400).
        """
        pipeline = self.registry.find(id_or_alias)
        loaded = self.load(pipeline)
        overrides = {k: str(v.get("value") if isinstance(v, dict) else v)
                     for k, v in (options.environment_overrides or {}).items()}
        request = self.workspace.request(
            environment=options.environment,
            env_overrides=overrides,
            inputs=options.run_inputs or {},
            task_ids=options.task_ids or [],
            continue_downstream=bool(options.continue_downstream_run),
            retry_from_failed=self._latest_finished_run(pipeline.id) if options.retry_from_failed else None,
            triggered_by=[{"triggerType": "WEBHOOK"}],
            runner_kind="api",
        )
        execution = prepare_run(loaded, request, settings=self.settings, store=self.store, masker=self.workspace.masker)
        if options.branch or options.commit:
            self.store.update_pipeline_run(execution.pipeline_run_id, branch=options.branch, commit=options.commit)
        thread = threading.Thread(target=self._execute, args=(execution,), name=f"run-{execution.pipeline_run_id[:8]}",
                                  daemon=True)
        with self._lock:
            self._executions[execution.pipeline_run_id] = execution
            self._threads[execution.pipeline_run_id] = thread
        thread.start()
        return execution.pipeline_run_id

    def _execute(self, execution: PipelineExecution) -> None:
        try:
            execution.execute()
        finally:
            with self._lock:
                self._executions.pop(execution.pipeline_run_id, None)

    def cancel(self, pipeline_run_id: str, *, wait: float = 30.0) -> None:
        """Cancel a run started by this server; returns once it has ended (at most ``wait`` seconds).

        Raises:
            NotFoundError: Unknown run.
            InvalidInputError: The run already finished, or was started by another process.
        """
        record = self.store.get_pipeline_run(pipeline_run_id)
        if record is None:
            raise NotFoundError("Pipeline run not found")
        with self._lock:
            execution = self._executions.get(pipeline_run_id)
            thread = self._threads.get(pipeline_run_id)
        if execution is None or thread is None:
            if record["run_status"] in TERMINAL_RUN_STATUSES:
                raise InvalidInputError(f"Pipeline run is already {record['run_status']}")
            raise InvalidInputError("Pipeline run was not started by this server; cancel it where it runs")
        self.store.update_pipeline_run(pipeline_run_id, run_status="CANCELLING")
        execution.cancel()
        thread.join(timeout=wait)

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

    def latest_runs(self) -> dict[str, dict[str, Any]]:
        """The newest run of each pipeline id."""
        latest: dict[str, dict[str, Any]] = {}
        for run in self.store.list_pipeline_runs(limit=500):
            latest.setdefault(run["pipeline_id"], run)
        return latest


def validation_detail(exc: PipelineValidationError) -> list[dict[str, Any]]:
    """Orchestra's 422 ``detail`` items for a validation error (with the line when known)."""
    return [problem.as_detail() for problem in exc.problems]
