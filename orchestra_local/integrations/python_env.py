"""The interpreter a PYTHON_EXECUTE_SCRIPT task runs in: the runner's own, or its project's environment.

Hosted Orchestra installs each task's project (``build_command``, ``python_version``) in an
environment of its own. Locally the isolation setting decides (``settings.PythonEnvironments``):

| isolation | the task runs in |
|---|---|
| ``shared`` | the runner's interpreter and packages (``build_command`` is not run) |
| ``per-project`` | a cached virtual environment of the project (``orchestra_local/venvs/``) |
| ``auto`` (default) | per-project when the project has a ``requirements.txt``, a ``build_command`` or a ``python_version`` other than the runner's; shared otherwise |

Building (or the fact the environment was reused, and how long that took) is written to the
attempt's ``environment`` log and shown as a note. Build steps run with the run's environment
(env file, selected environment) but not the task's ``environment_variables`` or ``ORCHESTRA_*``
variables, since one build serves every task of the project; each step is bounded by the task's
``timeout``.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from orchestra_local.integrations.base import TaskContext
from orchestra_local.integrations.process import run_process
from orchestra_local.settings import VENVS_DIR_NAME
from orchestra_local.venvs import (
    CommandOutcome,
    EnvironmentSpec,
    TaskEnvironment,
    default_search_path,
    ensure_environment,
)
from orchestra_local.venvs.cache import REQUIREMENTS_FILE

RUNNER_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"


def choose_isolation(setting: str, project_dir: Path, python_version: str | None, build_command: str | None) -> str:
    """``shared`` or ``per-project`` for one task, per the table in this module's docstring.

    Args:
        setting: ``auto``, ``shared`` or ``per-project``.
        project_dir: The task's absolute project folder.
        python_version: The task's ``python_version`` parameter.
        build_command: The task's ``build_command`` parameter.
    """
    if setting != "auto":
        return setting
    wants_own = bool(build_command) or (project_dir / REQUIREMENTS_FILE).is_file()
    return "per-project" if wants_own or python_version not in (None, RUNNER_VERSION) else "shared"


def prepare(ctx: TaskContext, project_dir: Path, *, python_version: str | None,
            build_command: str | None) -> TaskEnvironment | None:
    """The task's environment, built or reused; None when the task runs in the runner's interpreter.

    Raises:
        PythonVersionUnavailableError: ``python_version`` is not installed (lists what is).
        EnvironmentBuildError: A build step failed, or the run was cancelled meanwhile.
    """
    if choose_isolation(ctx.python.isolation, project_dir, python_version, build_command) == "shared":
        if ctx.attempt == 1 and python_version not in (None, RUNNER_VERSION):
            ctx.note(f"{ctx.task_id}: python_version {python_version} asked, but isolation is shared: the task runs "
                     f"in the runner's Python {RUNNER_VERSION}")
        if ctx.attempt == 1 and build_command:
            ctx.note(f"{ctx.task_id}: build_command not run (isolation shared: the runner's environment is used): "
                     + ctx.masker.mask(build_command))
        return None
    log = ctx.log_path("environment")

    def run(argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> CommandOutcome:
        _append(log, ctx.masker.mask(f"$ {shlex.join(argv)}  (in {cwd})"))
        result = run_process(argv, cwd=cwd, env=env, log_path=log, timeout=ctx.timeout, processes=ctx.processes,
                             masker=ctx.masker)
        return CommandOutcome(result.returncode, result.tail[-1] if result.tail else "")

    spec = EnvironmentSpec(project_dir, python_version, build_command)
    try:
        environment = ensure_environment(
            spec, venvs_dir=ctx.state_dir / VENVS_DIR_NAME, base_env=ctx.base_env,
            search_path=ctx.python.search_path or default_search_path(ctx.base_env), run=run,
            cancelled=lambda: ctx.cancelled,
        )
    except Exception as exc:
        _append(log, f"environment not ready: {exc}")
        raise
    _append(log, f"{environment.summary()} ({environment.path})")
    ctx.note(f"{ctx.task_id}: {environment.summary()}")
    return environment


def _append(log: Path, line: str) -> None:
    with log.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
