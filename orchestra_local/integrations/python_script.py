"""PYTHON / PYTHON_EXECUTE_SCRIPT: run a shell command (or INLINE code) in ``project_dir``.

Contract: orchestra-contract section 4. Locally the process inherits the runner's environment plus
Orchestra's ``ORCHESTRA_*`` variables and the parsed ``environment_variables``. ``python`` is the
interpreter of the project's own cached environment (``python_version``, built with
``build_command`` or its ``requirements.txt``), or the runner's under ``--isolation shared``: see
``python_env.py``.

Local convention **(our choice)**: when the last line the process prints on stdout is a JSON
object, it becomes the task's outputs; when that object names a ``table``, it is also recorded as
one INGESTION operation (``rows_written`` -> ``rowsAffected``, ``seconds`` -> duration). The line
is parsed as printed and secrets are masked in the parsed values afterwards, so a secret never
corrupts a number or the JSON (``"rows_written": 1***``) and never reaches the outputs.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from contextlib import nullcontext
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import field_validator, model_validator

from orchestra_local.errors import IntegrationError
from orchestra_local.integrations import python_env
from orchestra_local.integrations.base import (
    IntegrationParameters,
    TaskContext,
    TaskResult,
    parse_environment_variables,
)
from orchestra_local.integrations.process import run_process
from orchestra_local.spec.statuses import OperationStatus, OperationType, TaskRunStatus
from orchestra_local.store import utcnow

SHELL_PARAMETERS = frozenset({"command", "build_command"})
COMMAND_PATTERN = re.compile(r"^\s*(python|poetry|uv)\b\s+.+$", re.DOTALL)
"""What hosted Orchestra accepts as ``command`` (its PYTHON_EXECUTE_SCRIPT schema, via oml_lang)."""
"""Parameters holding shell command lines: values from inputs/MATRIX are shell-quoted in them."""


class Parameters(IntegrationParameters):
    """Parameters of PYTHON_EXECUTE_SCRIPT (Orchestra's names and meanings)."""

    source: Literal["GIT", "INLINE"] = "GIT"
    command: str | None = None
    code: str | None = None
    build_command: str | None = None
    project_dir: str | None = None
    shallow_clone_dirs: str | list[str] | None = None
    branch: str | None = None
    package_manager: Literal["PIP", "UV", "POETRY"] | None = None
    python_version: Literal["3.11", "3.12"] | None = None
    environment_variables: str | dict[str, Any] | None = None
    set_outputs: bool | None = None

    @field_validator("python_version", mode="before")
    @classmethod
    def _version_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, float) else value

    @field_validator("command")
    @classmethod
    def _python_command(cls, value: str | None) -> str | None:
        # Hosted Orchestra's parameter schema (read from oml_lang) only runs Python entry points.
        if value is not None and not COMMAND_PATTERN.match(value):
            raise ValueError("command must start with python, poetry or uv (e.g. python -m ingest --table orders)")
        return value

    @model_validator(mode="after")
    def _command_or_code(self) -> Parameters:
        if self.source == "GIT" and not self.command:
            raise ValueError("source GIT needs a 'command' (e.g. python -m ingest --table orders)")
        if self.source == "INLINE" and not self.code:
            raise ValueError("source INLINE needs 'code'")
        return self


def _child_env(ctx: TaskContext, params: Parameters) -> dict[str, str]:
    env = dict(ctx.base_env)
    # `python` is the runner's interpreter here; a per-project environment's bin/ goes before it (python_env.py).
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", os.defpath)])
    env["PYTHONUNBUFFERED"] = "1"  # stream logs as they are printed
    env.update(parse_environment_variables(params.environment_variables))
    env.update(ctx.task_env())
    return env


def _summary(line: str) -> dict[str, Any]:
    if not line.startswith("{"):
        return {}
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _operation(ctx: TaskContext, summary: dict[str, Any]) -> dict[str, Any]:
    completed = utcnow()
    seconds = summary.get("seconds")
    duration = float(seconds) if isinstance(seconds, (int, float)) else None
    name = str(summary.get("destination_table") or summary["table"])
    rows = summary.get("rows_written")
    return {
        "pipeline_run_id": ctx.pipeline_run_id,
        "task_run_id": ctx.task_run_id,
        "operation_name": name,
        "operation_status": OperationStatus.SUCCEEDED.value,
        "operation_type": OperationType.INGESTION.value,
        "external_id": name,
        "external_detail": json.dumps(summary, default=str),
        "integration": ctx.integration,
        "integration_job": ctx.integration_job,
        "started_at": completed - timedelta(seconds=duration) if duration is not None else None,
        "completed_at": completed,
        "operation_duration": duration,
        "rows_affected": int(rows) if isinstance(rows, int) else None,
    }


def execute(ctx: TaskContext, params: Parameters) -> TaskResult:
    """Run one attempt of the script.

    Returns:
        SUCCEEDED with the JSON summary as outputs when the process exits 0; FAILED with the exit
        code and the last output line otherwise; CANCELLED when the run was cancelled.

    Raises:
        IntegrationError: For a bad ``project_dir`` or ``environment_variables``, a
            ``python_version`` not installed here, or a failed environment build.
    """
    cwd = ctx.resolve_project_dir(params.project_dir)
    try:
        venv = python_env.prepare(ctx, cwd, python_version=params.python_version, build_command=params.build_command)
    except IntegrationError:
        if ctx.cancelled:
            return TaskResult(TaskRunStatus.CANCELLED, "cancelled while preparing the task's Python environment")
        raise
    env = _child_env(ctx, params) if venv is None else venv.activate(_child_env(ctx, params))
    log_path = ctx.log_path("command" if params.source == "GIT" else "inline")
    # Only inline code needs a private folder; a command runs without one (saves a mkdtemp and an
    # rmtree per task, ~0.6 ms).
    with tempfile.TemporaryDirectory(prefix="orchestra-inline-") if params.source == "INLINE" else nullcontext() as private:
        if params.source == "INLINE":
            assert private is not None
            # The code as substituted may hold secrets: it runs from a private temporary file, and
            # the artifact kept under the state directory is the masked copy.
            script = Path(private) / "inline.py"
            script.write_text(params.code or "", encoding="utf-8")
            kept = ctx.artifact_path(f"inline_attempt_{ctx.attempt}.py")
            kept.write_text(ctx.masker.mask(params.code or ""), encoding="utf-8")
            ctx.add_artifact(kept.name, kept)
            argv = [sys.executable if venv is None else str(venv.python), str(script)]
        else:
            argv = ["/bin/sh", "-c", params.command or ""]
        with ctx.webhook_session(set_outputs=bool(params.set_outputs)) as session:
            result = run_process(argv, cwd=cwd, env=env, log_path=log_path, timeout=ctx.timeout,
                                 processes=ctx.processes, masker=ctx.masker)
    if session.ignored_outputs:
        ctx.note(f"{ctx.task_id}: {session.ignored_outputs} SET_OUTPUT event(s) ignored (set_outputs is not true)")
    if result.cancelled:
        return TaskResult(TaskRunStatus.CANCELLED, "cancelled: the process group was terminated")
    if result.timed_out:
        return TaskResult(TaskRunStatus.FAILED, f"timed out after {ctx.timeout:g} seconds; the process group was killed")
    if result.returncode != 0:
        last = result.tail[-1] if result.tail else "(no output)"
        how = f"was killed by signal {-result.returncode}" if result.returncode < 0 else f"exited with code {result.returncode}"
        return TaskResult(TaskRunStatus.FAILED, f"command {how}: {last}")
    summary = ctx.masker.mask_value(_summary(result.raw_last_stdout_line))
    operations = [_operation(ctx, summary)] if "table" in summary else []
    return TaskResult(
        TaskRunStatus.SUCCEEDED,
        f"command exited with code 0 after {result.seconds:.1f}s",
        outputs=ctx.masker.mask_value({**summary, **session.outputs}),
        operations=operations,
    )
