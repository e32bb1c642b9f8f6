"""The shared protocol of local integrations.

Every integration module has the same small vocabulary: a ``Parameters`` pydantic model of its
task ``parameters`` (unknown keys forbidden), and ``execute(ctx, params) -> TaskResult`` that runs
ONE attempt. Retries, timeouts between attempts, statuses and storage are the engine's job; an
integration reports what happened in its :class:`TaskResult`, or raises
:class:`~orchestra_local.errors.IntegrationError` for a failed attempt.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from orchestra_local.connections import Connection
from orchestra_local.errors import IntegrationError, InvalidParametersError
from orchestra_local.integrations.process import ProcessRegistry
from orchestra_local.masking import Masker, secret_values
from orchestra_local.settings import PythonEnvironments
from orchestra_local.spec.statuses import TaskRunStatus
from orchestra_local.webhook import WebhookReceiver, WebhookSession

MAX_STEP_NAME = 100
"""Longest step part of a log file name, in characters (a dbt command line can be much longer)."""

RUNNER_PREFIX = "ORCHESTRA_LOCAL_"


def task_visible_env(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` without the runner's own settings that hold a secret.

    ``ORCHESTRA_LOCAL_API_TOKEN`` (the API's bearer token) and any other ``ORCHESTRA_LOCAL_*``
    variable whose name or value holds a secret (a metadata URL with a password) belong to the
    runner, never to a task's process; harmless ones such as ``ORCHESTRA_LOCAL_HOME`` stay.
    """
    return {k: v for k, v in env.items() if not (k.startswith(RUNNER_PREFIX) and secret_values({k: v}))}


class IntegrationParameters(BaseModel):
    """Base of integration parameter models: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class TaskResult:
    """Outcome of one attempt.

    Attributes:
        status: SUCCEEDED, WARNING, FAILED or CANCELLED.
        message: One line for the task run's ``message`` (no secrets; the store masks anyway).
        outputs: Named outputs (``ORCHESTRA.PIPELINE_RUN_TASKS['t'].OUTPUTS``).
        operations: Operation records (column names of the ``operations`` table).
        external_status: The external system's own status word, if any.
        retryable: False when another attempt cannot help (bad parameters, an expression error).
    """

    status: TaskRunStatus
    message: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    operations: list[dict[str, Any]] = field(default_factory=list)
    external_status: str | None = None
    retryable: bool = True


@dataclass
class TaskContext:
    """What an integration may use while running one attempt of one task run.

    Attributes:
        pipeline_run_id: Id of the pipeline run.
        task_run_id: Id of this task run.
        task_id: The task's id in the YAML.
        integration: e.g. ``PYTHON``.
        integration_job: e.g. ``PYTHON_EXECUTE_SCRIPT``.
        attempt: 1-based attempt number.
        repo_root: Repository root; ``project_dir`` parameters are relative to it.
        state_dir: The runner's state directory (for caches shared across runs).
        run_dir: This task run's folder under the state directory (logs/, artifacts/).
        base_env: Environment for child processes (a snapshot, never ``os.environ`` itself), without
            the runner's secret settings (:func:`task_visible_env`).
        orchestra_env: ``ORCHESTRA_*`` variables Orchestra sets for the task.
        timeout: Limit of this attempt in seconds, or None.
        processes: Registry used to terminate children on cancellation.
        masker: Secrets to mask in logs.
        record_file: ``(kind, filename, path)`` -> None; registers a log or artifact with the store.
        connection: The task's linked connection (``connection:`` in the YAML), if any.
        webhook: The run's SDK webhook receiver (None when the run has none).
        update_external: ``(status, message)`` -> None; records the external status of the task run.
        read_external: () -> ``(status, message)``; the external status as the store holds it now
            (another process, e.g. ``orchestra-local approve``, may have changed it).
        note: Callback for one-line remarks shown to the user (e.g. skipped build commands).
        python: Where Python tasks run (isolation, interpreter search path; ``settings.py``).
    """

    pipeline_run_id: str
    task_run_id: str
    task_id: str
    integration: str
    integration_job: str
    attempt: int
    repo_root: Path
    state_dir: Path
    run_dir: Path
    base_env: Mapping[str, str]
    orchestra_env: Mapping[str, str]
    timeout: float | None
    processes: ProcessRegistry
    masker: Masker
    record_file: Callable[[str, str, Path], None]
    connection: Connection | None = None
    note: Callable[[str], None] = lambda _message: None
    webhook: WebhookReceiver | None = None
    update_external: Callable[[str, str | None], None] = lambda _status, _message: None
    read_external: Callable[[], tuple[str | None, str | None]] = lambda: (None, None)
    python: PythonEnvironments = field(default_factory=PythonEnvironments)

    def __post_init__(self) -> None:
        self.base_env = task_visible_env(self.base_env)

    @property
    def cancelled(self) -> bool:
        """True once the pipeline run is being cancelled."""
        return self.processes.cancelled.is_set()

    def log_path(self, step: str) -> Path:
        """Create and register the log file of one step of this attempt: ``<attempt>/<step>.log``.

        The step (e.g. a dbt command line) is masked, reduced to ``[A-Za-z0-9._ -]`` and cut to
        ``MAX_STEP_NAME`` characters: no secret, path separator or over-long name reaches the disk.
        """
        safe = re.sub(r"[^A-Za-z0-9._ -]+", "_", self.masker.mask(step)).strip()[:MAX_STEP_NAME].strip() or "log"
        filename = f"{self.attempt}/{safe}.log"
        path = self.run_dir / "logs" / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        self.record_file("log", filename, path)
        return path

    def artifact_path(self, filename: str) -> Path:
        """Path for an artifact of this attempt (register it with :meth:`add_artifact`); secrets in
        ``filename`` are masked."""
        path = self.run_dir / "artifacts" / str(self.attempt) / self.masker.mask(filename)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def add_artifact(self, filename: str, path: Path) -> None:
        """Register an artifact file written at ``path`` under ``filename`` (masked)."""
        self.record_file("artifact", self.masker.mask(filename), path)

    def task_env(self) -> dict[str, str]:
        """Variables Orchestra gives a task's process: ``ORCHESTRA_*`` and the linked connection's."""
        env = dict(self.connection.env_vars()) if self.connection is not None else {}
        env.update(self.orchestra_env)
        return env

    def require_connection(self, integration: str) -> Connection:
        """The linked connection, which must belong to ``integration``.

        Raises:
            IntegrationError: When the task has no connection or one of another integration.
        """
        if self.connection is None:
            raise IntegrationError(
                f"{self.integration_job} needs a connection: set `connection:` on the task and define it in "
                "the connections file"
            )
        if self.connection.integration != integration:
            raise IntegrationError(
                f"connection '{self.connection.name}' is a {self.connection.integration} connection, "
                f"not {integration}"
            )
        return self.connection

    @contextmanager
    def webhook_session(self, *, set_outputs: bool) -> Iterator[WebhookSession]:
        """Accept the SDK's events for this task run while the block runs (see ``webhook.py``)."""

        def write_log(name: str, text: str) -> None:
            self.log_path(f"sdk-{name.removesuffix('.log')}").write_text(self.masker.mask(text), encoding="utf-8")

        if self.webhook is None:
            yield WebhookSession(self.task_run_id, set_outputs, write_log, self.update_external)
            return
        with self.webhook.session(self.task_run_id, set_outputs=set_outputs, write_log=write_log,
                                  update_status=self.update_external) as session:
            yield session

    def resolve_project_dir(self, project_dir: str | None) -> Path:
        """Absolute ``project_dir`` (relative to the repository root; must stay inside it).

        Raises:
            IntegrationError: When the folder does not exist or escapes the repository.
        """
        folder = (self.repo_root / (project_dir or ".")).resolve()
        if folder != self.repo_root and self.repo_root not in folder.parents:
            raise IntegrationError(f"project_dir '{project_dir}' is outside the repository root {self.repo_root}")
        if not folder.is_dir():
            raise IntegrationError(f"project_dir '{project_dir}' does not exist under {self.repo_root}")
        return folder


def parse_environment_variables(raw: str | dict[str, Any] | None) -> dict[str, str]:
    """The variables of the ``environment_variables`` parameter, as ``{name: text}``.

    ``raw`` is a JSON object *as a string* with no expression, or the dict the engine built: when
    the parameter holds ``${{ }}``, the engine parses the pipeline file's JSON first and substitutes
    into the values only (``engine/parameters.py``), so a value can never add a variable.
    Non-string values are passed on as their JSON text.

    Raises:
        InvalidParametersError: When the text is not a JSON object.
    """
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InvalidParametersError(
                f"environment_variables is not valid JSON ({exc.msg} at char {exc.pos}); "
                "it must be a JSON object as a string, e.g. '{\"KEY\": \"value\"}'"
            ) from None
    if not isinstance(raw, dict):
        raise InvalidParametersError("environment_variables must be a JSON object, e.g. '{\"KEY\": \"value\"}'")
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}


class Integration(Protocol):
    """The shape of an integration module (see this module's docstring)."""

    Parameters: type[IntegrationParameters]

    def execute(self, ctx: TaskContext, params: Any) -> TaskResult:
        """Run one attempt."""
        ...
