"""Projects and an in-process pipeline runner for the per-project environment tests."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestra_local.engine.runner import RunRequest, prepare_run
from orchestra_local.settings import resolve_settings
from orchestra_local.spec.loader import load_file
from orchestra_local.store import RunStore

PACKAGE = "inflection"
"""Pure Python, one module, on PyPI since 2012; absent from the runner's environment."""

# Prints its interpreter and the package's version as the task's outputs. The generic function is
# PEP 695 syntax: a SyntaxError before Python 3.12.
MAIN_PY = '''
import json, sys
import inflection
def first[T](items: list[T]) -> T:
    return items[0]
print(json.dumps({"python": sys.version.split()[0], "prefix": sys.prefix,
                  "inflection": inflection.__version__, "word": inflection.camelize(first(["snake_case"]))}))
'''

MAIN_ANY_PY = MAIN_PY.replace("def first[T](items: list[T]) -> T:", "def first(items):")
"""The same without 3.12-only syntax, for projects on the runner's own version."""

PIPELINE = """
version: v1
name: {name}
pipeline:
  run_project:
    tasks:
      run_main:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        parameters:
{parameters}
"""


def pipeline_yaml(name: str = "project_env", **parameters: Any) -> str:
    """A one-task pipeline; ``parameters`` become the task's parameters (strings quoted)."""
    lines = "\n".join(f"          {key}: {value!r}" if isinstance(value, str) else f"          {key}: {value}"
                      for key, value in {"command": "python main.py", **parameters}.items())
    return PIPELINE.format(name=name, parameters=lines)


def make_project(root: Path, name: str = "proj", requirements: str | None = f"{PACKAGE}==0.5.1\n",
                 main: str = MAIN_PY) -> Path:
    """A repository ``root`` (with ``.git``) holding ``orchestra/`` and a project folder ``name``."""
    (root / ".git").mkdir(parents=True, exist_ok=True)
    (root / "orchestra").mkdir(exist_ok=True)
    project = root / name
    project.mkdir()
    (project / "main.py").write_text(textwrap.dedent(main))
    if requirements is not None:
        (project / "requirements.txt").write_text(requirements)
    return project


@dataclass
class Finished:
    """A finished run: its id, status and the store holding it."""

    run_id: str
    status: str
    store: RunStore

    def task_runs(self) -> list[dict[str, Any]]:
        """Task runs that are not matrix parents."""
        return [t for t in self.store.list_task_runs(self.run_id) if not t["matrix_parent"]]

    def only(self) -> dict[str, Any]:
        (task_run,) = self.task_runs()
        return task_run

    def log(self, task_run_id: str, step: str = "environment", attempt: int = 1) -> str:
        """Text of one log file of a task run (``<attempt>/<step>.log``)."""
        for record in self.store.list_files(task_run_id, "log"):
            if record["filename"] == f"{attempt}/{step}.log":
                return Path(record["path"]).read_text()
        raise AssertionError(f"no log {attempt}/{step}.log among "
                             f"{[r['filename'] for r in self.store.list_files(task_run_id, 'log')]}")


Runner = Callable[..., Finished]


def run_file(path: Path, *, state_dir: Path, isolation: str = "per-project", workers: int = 2,
             env: dict[str, str] | None = None) -> Finished:
    """Run a pipeline file in-process with its state in ``state_dir``."""
    loaded = load_file(path)
    environ = {**os.environ, **(env or {})}
    settings = resolve_settings(path, state_dir=state_dir, max_parallel=workers, retry_delay_scale=0.0005,
                                python_isolation=isolation, environ=environ)
    store = RunStore(settings.metadata_url)
    execution = prepare_run(loaded, RunRequest(env=environ), settings=settings, store=store)
    outcome = execution.execute()
    return Finished(outcome.pipeline_run_id, outcome.status.value, store)
