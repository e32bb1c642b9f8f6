"""Helpers to run pipelines in-process against a throwaway repository."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from orchestra_local.connections import Connection
from orchestra_local.engine.runner import RunRequest, prepare_run
from orchestra_local.settings import resolve_settings
from orchestra_local.spec.loader import load_file
from orchestra_local.store import RunStore

# A small worker the test pipelines call: sleeps, prints, fails, or records its pid on demand.
TASK_SCRIPT = '''
import argparse, json, os, sys, time
p = argparse.ArgumentParser()
p.add_argument("--name", default="t")
p.add_argument("--sleep", type=float, default=0)
p.add_argument("--exit", type=int, default=0)
p.add_argument("--pidfile")
p.add_argument("--fail-until-attempt-file")
a = p.parse_args()
if a.pidfile:
    open(a.pidfile, "w").write(str(os.getpid()))
if a.fail_until_attempt_file:
    counter = a.fail_until_attempt_file
    n = int(open(counter).read()) if os.path.exists(counter) else 0
    open(counter, "w").write(str(n + 1))
    if n < 1:
        print("first attempt fails", file=sys.stderr); sys.exit(1)
time.sleep(a.sleep)
print("task", a.name, "run", os.environ["ORCHESTRA_TASK_RUN_ID"])
if a.exit:
    print(f"failing on purpose with {a.exit}", file=sys.stderr)
    sys.exit(a.exit)
print(json.dumps({"table": a.name, "rows_read": 3, "rows_written": 3, "seconds": a.sleep}))
'''


@dataclass
class Finished:
    """A finished run and the store holding it."""

    run_id: str
    status: str
    store: RunStore

    def task_runs(self) -> list[dict[str, Any]]:
        return self.store.list_task_runs(self.run_id)

    def by_label(self) -> dict[str, dict[str, Any]]:
        """Task runs keyed ``group.task`` or ``group.task[value]`` (parents as ``group.task[*]``)."""
        out = {}
        for record in self.task_runs():
            label = f"{record['group_id']}.{record['task_id']}"
            if record["matrix_parent"]:
                label += "[*]"
            elif record["run_parameters"]:
                label += f"[{next(iter(record['run_parameters']['matrix'].values()))}]"
            out[label] = record
        return out

    def statuses(self) -> dict[str, str]:
        return {label: record["status"] for label, record in self.by_label().items()}


@pytest.fixture
def task_repo(repo: Path) -> Path:
    (repo / "py").mkdir()
    (repo / "py" / "task.py").write_text(TASK_SCRIPT)
    return repo


@pytest.fixture
def run_pipeline(task_repo: Path) -> Callable[..., Finished]:
    """Write YAML into the repo and run it: ``run_pipeline(yaml, workers=2, inputs={}, connections={}, ...)``."""

    def run(yaml_text: str, *, workers: int = 2, inputs: dict[str, Any] | None = None,
            metadata_url: str | None = None, skip_remote: bool = False, on_start: Callable[[Any], None] | None = None,
            connections: dict[str, Connection] | None = None, env: dict[str, str] | None = None) -> Finished:
        path = task_repo / "orchestra" / "p.yml"
        path.write_text(textwrap.dedent(yaml_text))
        loaded = load_file(path)
        settings = resolve_settings(path, max_parallel=workers, retry_delay_scale=0.0005, metadata_url=metadata_url)
        store = RunStore(settings.metadata_url)
        request = RunRequest(inputs=inputs or {}, env={**os.environ, **(env or {})}, skip_remote=skip_remote,
                             connections=connections or {})
        execution = prepare_run(loaded, request, settings=settings, store=store)
        if on_start is not None:
            on_start(execution)
        outcome = execution.execute()
        return Finished(outcome.pipeline_run_id, outcome.status.value, store)

    return run
