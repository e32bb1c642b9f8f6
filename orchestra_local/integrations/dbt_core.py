"""DBT_CORE / DBT_CORE_EXECUTE: run dbt commands in process with ``dbtRunner``.

Contract: orchestra-contract section 4. ``commands`` holds dbt commands separated by ``;``. Each runs
in ``project_dir`` against the project's own ``profiles.yml`` (hosted Orchestra takes profiles
from the connection). Every node result becomes an operation; any ``warn`` makes the task WARNING;
``manifest.json`` and ``run_results.json`` are kept as artifacts of the attempt.

dbt's programmatic API is not safe to run twice at once in one process, so dbt tasks of a run
take turns (``DBT_LOCK``) while Python tasks keep running beside them. A dbt command cannot be
stopped by killing a process; on cancellation or timeout the runner interrupts the queries dbt
has open (``cancel_open_connections``, which dbt itself uses on Ctrl-C) every 100 ms until the
command returns, so the remaining nodes end quickly as errors or skips.

Secrets: values of secret-named ``--vars`` keys (``--vars '{"api_key": ...}'``) are registered
with the masker before anything is written; the command line is masked in log lines, log file
names and messages; after each command every file dbt wrote in its target and log folders under
the state directory (``run_results.json`` holds the ``--vars``, compiled SQL the ``var()`` values)
is scrubbed (:func:`~orchestra_local.masking.scrub_tree`) before it is kept as an artifact; and the
runner's own secret settings are out of ``os.environ`` while dbt runs.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TextIO

import yaml
from pydantic import model_validator

from orchestra_local.errors import IntegrationError, InvalidParametersError
from orchestra_local.integrations import dbt_profiles
from orchestra_local.integrations.base import (
    IntegrationParameters,
    TaskContext,
    TaskResult,
    parse_environment_variables,
    task_visible_env,
)
from orchestra_local.integrations.dbt_artifacts import failure_message, load_json, operations_from_results
from orchestra_local.masking import MAX_SCRUB_BYTES, scrub_tree, secret_values
from orchestra_local.spec.statuses import OperationStatus, TaskRunStatus

DBT_LOCK = threading.Lock()
"""Serialises in-process dbt invocations (dbtRunner keeps global state)."""

SHELL_PARAMETERS = frozenset({"commands"})
"""``commands`` is split like a shell command line: values substituted into it are quoted as data."""
LOGGED_LEVELS = frozenset({"info", "warn", "error"})
ARTIFACTS = ("run_results.json", "sources.json", "manifest.json")


class Parameters(IntegrationParameters):
    """Parameters of DBT_CORE_EXECUTE (Orchestra's names and meanings)."""

    commands: str
    project_dir: str | None = None
    package_manager: Literal["PIP", "UV", "POETRY"] | None = None
    python_version: str | None = None
    branch: str | None = None
    shallow_clone_dirs: str | list[str] | None = None
    environment_variables: str | dict[str, Any] | None = None
    use_state_orchestration: bool | None = None
    warehouse_identifier: str | None = None
    production_run_identifier: str | None = None

    @model_validator(mode="after")
    def _dbt_commands(self) -> Parameters:
        for step in self.steps():
            if not step.startswith("dbt ") and step != "dbt":
                raise ValueError(f"each command must start with 'dbt' (got '{step}'); separate commands with ';'")
        if not self.steps():
            raise ValueError("commands is empty; give dbt commands separated by ';', e.g. 'dbt seed; dbt build'")
        return self

    def steps(self) -> list[str]:
        """The commands, split on ``;`` outside quotes (a trailing ``;`` is allowed), each re-quoted.

        ``commands`` is a shell parameter (``SHELL_PARAMETERS``): a substituted value arrives quoted,
        so a ``;`` or a space inside it can neither start another dbt command nor add an argument.
        """
        lexer = shlex.shlex(self.commands, posix=True, punctuation_chars=";")
        lexer.whitespace_split = True
        steps: list[list[str]] = [[]]
        for token in lexer:
            if token and set(token) == {";"}:
                steps.append([])
            else:
                steps[-1].append(token)
        return [shlex.join(words) for words in steps if words]


@contextmanager
def _process_state(env: Mapping[str, str], cwd: Path) -> Iterator[None]:
    """Set environment variables and the working directory for dbt; restore both afterwards.

    Only called while holding ``DBT_LOCK``; the rest of the runner never reads ``os.environ`` or
    relative paths after start-up, so other threads are unaffected. The runner's own secret
    settings (``ORCHESTRA_LOCAL_API_TOKEN``, ...) are removed meanwhile: dbt runs in this process,
    and ``env_var()`` must not reach what a task's process cannot.
    """
    hidden = set(os.environ) - set(task_visible_env(os.environ))
    saved = {key: os.environ.get(key) for key in {*env, *hidden}}
    previous_cwd = os.getcwd()
    for key in hidden:
        del os.environ[key]
    os.environ.update(env)
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(previous_cwd)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _dbt_env(ctx: TaskContext, params: Parameters, project: Path, target: Path, logs: Path) -> dict[str, str]:
    env = {k: v for k, v in ctx.base_env.items() if k.startswith("DBT_")}
    env.update(parse_environment_variables(params.environment_variables))
    env.update(ctx.task_env())
    env.update(
        {
            "DBT_PROJECT_DIR": str(project),
            "DBT_TARGET_PATH": str(target),
            "DBT_LOG_PATH": str(logs),
            "DBT_LOG_LEVEL": "none",  # stdout stays quiet; events go to the task log via the callback
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
    )
    if (project / "profiles.yml").is_file():
        env["DBT_PROFILES_DIR"] = str(project)
    # Variables referenced by profiles.yml with env_var() are read from os.environ by dbt.
    for key, value in ctx.base_env.items():
        env.setdefault(key, value)
    return env


def target_folder(ctx: TaskContext, project: Path) -> Path:
    """dbt's target folder for a project: one per project under the state directory, shared by runs."""
    return ctx.state_dir / "dbt" / project.relative_to(ctx.repo_root).as_posix().replace("/", "__") / "target"


def duckdb_targets(ctx: TaskContext, params: Parameters) -> list[Path]:
    """The local DuckDB files the commands' targets write (the runner's pools serialise their writers).

    Raises:
        IntegrationError: ``project_dir`` is missing or outside the repository.
        Exception: What dbt raises for a profile it cannot read or render (see ``dbt_profiles``).
    """
    project = ctx.resolve_project_dir(params.project_dir)
    env = _dbt_env(ctx, params, project, target_folder(ctx, project), ctx.run_dir / "logs")
    return dbt_profiles.duckdb_files(project, env, params.steps())


def _event_writer(log: TextIO, ctx: TaskContext) -> Any:
    def write(event: Any) -> None:
        info = event.info
        if info.level in LOGGED_LEVELS:
            stamp = datetime.fromtimestamp(info.ts.seconds).strftime("%H:%M:%S")
            log.write(f"{stamp}  {ctx.masker.mask(info.msg)}\n")
            log.flush()

    return write


class _Interrupter:
    """Interrupts dbt's open queries, repeatedly, from another thread until the command ends."""

    INTERVAL_SECONDS = 0.1

    def __init__(self) -> None:
        self.reason: str | None = None
        self._finished = threading.Event()
        self._lock = threading.Lock()

    def request(self, reason: str) -> None:
        """Start interrupting (first reason wins: ``cancelled`` or ``timed out``)."""
        with self._lock:
            if self.reason is not None:
                return
            self.reason = reason
        threading.Thread(target=self._loop, name="dbt-interrupt", daemon=True).start()

    def _loop(self) -> None:
        from dbt.adapters.factory import FACTORY

        while not self._finished.is_set():
            for adapter in list(FACTORY.adapters.values()):
                adapter.cancel_open_connections()
            self._finished.wait(self.INTERVAL_SECONDS)

    def finish(self) -> None:
        """The command returned: stop interrupting."""
        self._finished.set()


def _release_adapters() -> None:
    """Close every connection dbt keeps open after an invocation.

    dbt-duckdb caches its DuckDB database in a class attribute and, after a failed node, keeps it
    open; the runner would then hold the warehouse file (and DuckDB's one-writer lock) until it
    exits, and the next run's ingestion workers could not write. ``reset_adapters`` closes dbt's
    connections; the DuckDB environment needs its own close.
    """
    from dbt.adapters.factory import reset_adapters

    reset_adapters()
    duckdb_connections = sys.modules.get("dbt.adapters.duckdb.connections")
    if duckdb_connections is not None:
        manager = duckdb_connections.DuckDBConnectionManager
        with manager._LOCK:  # noqa: SLF001 - dbt-duckdb offers no public way to close its database
            if manager._ENV is not None:  # noqa: SLF001
                manager._ENV.close()  # noqa: SLF001
                manager._ENV = None  # noqa: SLF001


def vars_secrets(args: list[str]) -> list[str]:
    """Values of secret-named keys in a dbt command's ``--vars`` (YAML or JSON, as dbt reads it).

    Args:
        args: The command's arguments after ``dbt``, e.g. ``["build", "--vars", '{"api_key": "k"}']``.

    Returns:
        The secret values (rule: :func:`~orchestra_local.masking.secret_values`); none when the
        value does not parse (dbt reports that itself).
    """
    found: list[str] = []
    for index, arg in enumerate(args):
        if arg == "--vars" and index + 1 < len(args):
            text = args[index + 1]
        elif arg.startswith("--vars="):
            text = arg.removeprefix("--vars=")
        else:
            continue
        try:
            parsed = yaml.safe_load(text)
        except yaml.YAMLError:
            continue
        if isinstance(parsed, dict):
            found += secret_values(parsed)
    return found


def _split(step: str) -> list[str]:
    """A command's arguments after ``dbt``, split as a shell splits words.

    Raises:
        InvalidParametersError: Unbalanced quotes (the command is not echoed: it may hold a secret).
    """
    try:
        return shlex.split(step)[1:]
    except ValueError as exc:
        raise InvalidParametersError(f"commands: a dbt command does not split into words ({exc}); "
                                     "check its quotes") from None


def _artifact_versions(target: Path) -> dict[str, int | None]:
    """Each artifact's modification time (ns), None when absent: what a command found before it ran."""
    return {name: (target / name).stat().st_mtime_ns if (target / name).is_file() else None for name in ARTIFACTS}


def _keep_artifacts(ctx: TaskContext, target: Path, prefix: str, before: dict[str, int | None]) -> None:
    """Record the artifacts this command wrote (changed since ``before``): a command that failed
    before writing a manifest must not report an older command's as its own."""
    after = _artifact_versions(target)
    for name in ARTIFACTS:
        source = target / name
        if after[name] is not None and after[name] != before[name]:
            filename = f"{prefix}{name}"
            destination = ctx.artifact_path(filename)
            shutil.copyfile(source, destination)
            ctx.add_artifact(filename, destination)


def _with_run_ids(ctx: TaskContext, operations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    common = {
        "pipeline_run_id": ctx.pipeline_run_id,
        "task_run_id": ctx.task_run_id,
        "integration": ctx.integration,
        "integration_job": ctx.integration_job,
    }
    return [{**op, **common} for op in operations]


def execute(ctx: TaskContext, params: Parameters) -> TaskResult:
    """Run the dbt commands one after another; stop at the first that fails.

    Returns:
        SUCCEEDED, WARNING (a node warned), FAILED (a node or a command failed) or CANCELLED, with
        one operation per node result.

    Raises:
        IntegrationError: When ``project_dir`` holds no ``dbt_project.yml``.
    """
    project = ctx.resolve_project_dir(params.project_dir)
    if not (project / "dbt_project.yml").is_file():
        raise IntegrationError(f"project_dir '{params.project_dir}' holds no dbt_project.yml ({project})")
    if params.package_manager or params.python_version:
        ctx.note("package_manager/python_version are not applied locally: dbt runs in the runner's environment")
    steps = params.steps()
    for step in steps:  # before anything is written: log names and lines hold the command
        ctx.masker.add(*vars_secrets(_split(step)))
    target = target_folder(ctx, project)
    dbt_logs = ctx.run_dir / "logs" / str(ctx.attempt) / "dbt"
    interrupter = _Interrupter()
    stop_listening = ctx.processes.on_cancel(lambda: interrupter.request("cancelled"))
    timer = threading.Timer(ctx.timeout, lambda: interrupter.request("timed out")) if ctx.timeout else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        env = _dbt_env(ctx, params, project, target, dbt_logs)
        operations, failure = _run_steps(ctx, steps, project, target, env, stop=lambda: interrupter.reason is not None)
    finally:
        interrupter.finish()
        stop_listening()
        if timer is not None:
            timer.cancel()
    operations = _with_run_ids(ctx, operations)
    counts = _count(operations)
    summary = ", ".join(f"{n} {s.lower()}" for s, n in counts.items()) or "no nodes"
    if interrupter.reason == "cancelled":
        return TaskResult(TaskRunStatus.CANCELLED, f"cancelled; dbt's open queries were interrupted ({summary})",
                          operations=operations)
    if interrupter.reason == "timed out":
        return TaskResult(TaskRunStatus.FAILED, f"timed out after {ctx.timeout:g} seconds; dbt's open queries were "
                          f"interrupted ({summary})", operations=operations)
    if failure is not None:
        headline, _, details = failure.partition("\n")
        message = f"{headline} ({summary})" + (f"\n{details}" if details else "")
        return TaskResult(TaskRunStatus.FAILED, ctx.masker.mask(message), operations=operations)
    if counts.get(OperationStatus.WARNING.value):
        return TaskResult(TaskRunStatus.WARNING, f"dbt finished with warnings ({summary})", operations=operations)
    return TaskResult(TaskRunStatus.SUCCEEDED, f"dbt finished ({summary})", operations=operations)


def _run_steps(
    ctx: TaskContext, steps: list[str], project: Path, target: Path, env: dict[str, str], stop: Callable[[], bool]
) -> tuple[list[dict[str, Any]], str | None]:
    """Run the commands in order until one fails or ``stop()``; returns the operations and the failure."""
    from dbt.cli.main import dbtRunner  # imported on first use: dbt adds about a second to start-up

    operations: list[dict[str, Any]] = []
    failure: str | None = None
    with DBT_LOCK, _process_state(env, project):
        for index, step in enumerate(steps, start=1):
            if stop():
                break
            for name in ARTIFACTS[:2]:  # never report a previous command's results as this one's
                (target / name).unlink(missing_ok=True)
            args = _split(step)
            started, found = time.time(), _artifact_versions(target)
            with ctx.log_path(step).open("a", encoding="utf-8") as log:
                log.write(f"$ {ctx.masker.mask(step)}\n")
                try:
                    result = dbtRunner(callbacks=[_event_writer(log, ctx)]).invoke(args)
                finally:
                    _release_adapters()
                    _scrub(ctx, (target, Path(env["DBT_LOG_PATH"])), since=started if index > 1 else None)
                if result.exception is not None:
                    log.write(f"error: {ctx.masker.mask(str(result.exception))}\n")
            prefix = "" if len(steps) == 1 else f"{index}_{args[0] if args else 'dbt'}/"
            _keep_artifacts(ctx, target, prefix, found)
            manifest = load_json(target / "manifest.json")
            step_operations: list[dict[str, Any]] = []
            for name, freshness in (("run_results.json", False), ("sources.json", True)):
                results = load_json(target / name)
                if results is not None:
                    step_operations.extend(operations_from_results(results, manifest, freshness=freshness))
            operations.extend(step_operations)
            if not result.success:
                failure = failure_message(step, result.exception, step_operations, ctx.log_path(step))
                break
    return operations, failure


def _scrub(ctx: TaskContext, folders: tuple[Path, ...], since: float | None) -> None:
    """Mask what dbt wrote under the state directory (the first command of a task checks every file).

    A file left holding a secret (binary and not a cache, or too large to read) is named in a note.
    """
    for folder in folders:
        for path in scrub_tree(folder, ctx.masker, since=since).left:
            ctx.note(f"{path} may hold a secret and could not be masked (binary or over "
                     f"{MAX_SCRUB_BYTES // 2**20} MiB); delete it if it should not stay under the state directory")


def _count(operations: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for op in operations:
        counts[op["operation_status"]] = counts.get(op["operation_status"], 0) + 1
    return counts
