"""Where the runner's time goes between one task's process exit and the next task's start.

Runs ``orchestra-local run`` in this process on a chain of N ``python -c pass`` tasks (the workload
of ``engine_overhead.py``) with timestamps around the runner's steps, and prints, for each interval
from the end of one task's output pump to the next task's ``Popen``, the median in milliseconds
over the chain. The wrappers cost a few microseconds each; compare runs of this script, not its
numbers with ``engine_overhead.py``'s.

    .venv/bin/python benchmarks/engine_gaps.py --tasks 200
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from engine_overhead import pipeline_yaml

MARKS: list[tuple[str, float]] = []
STEPS = [  # (module, qualified name, label)
    ("orchestra_local.integrations.process", "_pump", "pump"),
    ("orchestra_local.integrations.process", "ProcessRegistry.unregister", "unregister"),
    ("orchestra_local.engine.executor", "PipelineExecution._complete", "complete"),
    ("orchestra_local.engine.executor", "PipelineExecution._dispatch", "dispatch"),
    ("orchestra_local.engine.attempts", "run_node", "node"),
    ("orchestra_local.store.repository", "RunStore.update_task_run", "write"),
    ("orchestra_local.integrations.python_script", "execute", "execute"),
    ("orchestra_local.engine.pool_waits", "_claims", "claims"),
    ("orchestra_local.integrations.base", "TaskContext.log_path", "log_path"),
]


def _mark(label: str) -> None:
    MARKS.append((label, time.perf_counter()))


def _wrap(module_name: str, qualified: str, label: str) -> None:
    owner = importlib.import_module(module_name)
    *path, name = qualified.split(".")
    for part in path:
        owner = getattr(owner, part)
    function = getattr(owner, name)

    @functools.wraps(function)
    def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
        _mark(f"{label}>")
        try:
            return function(*args, **kwargs)
        finally:
            _mark(f"{label}<")

    setattr(owner, name, timed)


def instrument() -> None:
    """Wrap :data:`STEPS` (and the names other modules imported them under) and ``Popen``."""
    for step in STEPS:
        _wrap(*step)
    import orchestra_local.engine.attempts as attempts
    import orchestra_local.engine.executor as executor
    import orchestra_local.integrations.process as process
    import orchestra_local.integrations.python_script as python_script

    executor.run_node = attempts.run_node
    python_script.run_process = process.run_process
    start = subprocess.Popen.__init__

    def popen(self, args, *rest, **kwargs):  # type: ignore[no-untyped-def]
        if isinstance(args, list) and "pass" in str(args[-1]):
            _mark("Popen>")
        start(self, args, *rest, **kwargs)

    subprocess.Popen.__init__ = popen  # type: ignore[method-assign]


def intervals() -> dict[str, list[float]]:
    """Milliseconds of each interval between consecutive marks, from a pump's end to the next ``Popen``."""
    found: dict[str, list[float]] = defaultdict(list)
    index = 0
    while index < len(MARKS):
        if MARKS[index][0] == "pump<":
            end = next((j for j in range(index + 1, len(MARKS)) if MARKS[j][0] == "Popen>"), None)
            if end is None:
                break
            seen: dict[str, int] = defaultdict(int)
            for j in range(index, end):
                name = f"{MARKS[j][0]} -> {MARKS[j + 1][0]}"
                seen[name] += 1  # the same step twice (two store writes) is two intervals
                found[name if seen[name] == 1 else f"{name} (#{seen[name]})"].append(
                    (MARKS[j + 1][1] - MARKS[j][1]) * 1000)
            index = end
        index += 1
    return found


def main() -> None:
    """Run the chain once in this process and print the median of each interval."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200, help="tasks in the chain")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="engine-gaps-") as tmp:
        repo = Path(tmp)
        (repo / ".git").mkdir()
        (repo / "orchestra").mkdir()
        (repo / "orchestra" / "chain.yml").write_text(pipeline_yaml("chain", args.tasks))
        os.environ["ORCHESTRA_LOCAL_HOME"] = str(repo / ".orchestra_local")
        os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
        os.chdir(repo)
        instrument()
        from orchestra_local.cli import main as cli

        sys.argv = ["orchestra-local", "run", "orchestra/chain.yml", "--no-progress"]
        with contextlib.suppress(SystemExit):  # run ends with sys.exit(its exit code)
            cli(standalone_mode=False)
    total = 0.0
    for name, values in intervals().items():
        median = statistics.median(values)
        total += median
        print(f"{median:7.3f} ms  {name}  (n={len(values)})")
    print(f"{total:7.3f} ms  from a task's pump end to the next task's Popen (sum of medians)")


if __name__ == "__main__":
    main()
