"""Engine overhead per task: orchestra-local vs the same number of bare subprocesses.

Runs, in one process and one go:

- a *wide* pipeline (one task group of N independent no-op PYTHON tasks) and a *deep* one (a chain
  of N tasks, each depending on the previous), through the real executor with its SQLite store,
  webhook receiver and log files, at ``--max-parallel`` workers;
- the same N ``python -c pass`` processes started bare from a thread pool of the same size (wide)
  or one after another (deep): the floor.

Overhead per task = (runner seconds - bare seconds) / N. Goal: under 10 ms.

    .venv/bin/python benchmarks/engine_overhead.py [--tasks 200] [--max-parallel 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from orchestra_local.engine.runner import RunRequest, prepare_run
from orchestra_local.settings import resolve_settings
from orchestra_local.spec.loader import load_file
from orchestra_local.store import RunStore

COMMAND = "python -c pass"


def pipeline_yaml(shape: str, tasks: int) -> str:
    lines = ["version: v1", f"name: overhead {shape}", "pipeline:", "  g:", "    tasks:"]
    for index in range(tasks):
        depends = f", depends_on: [t{index - 1}]" if shape == "deep" and index else ""
        lines.append(f"      t{index}: {{integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, "
                     f"parameters: {{command: '{COMMAND}'}}{depends}}}")
    return "\n".join(lines) + "\n"


def run_engine(repo: Path, shape: str, tasks: int, workers: int) -> float:
    path = repo / "orchestra" / f"{shape}.yml"
    path.write_text(pipeline_yaml(shape, tasks))
    loaded = load_file(path)
    settings = resolve_settings(path, max_parallel=workers)
    store = RunStore(settings.metadata_url)
    started = time.perf_counter()
    execution = prepare_run(loaded, RunRequest(env=dict(os.environ)), settings=settings, store=store)
    outcome = execution.execute()
    seconds = time.perf_counter() - started
    if outcome.status != "SUCCEEDED":
        raise SystemExit(f"benchmark run ended {outcome.status}")
    store.close()
    return seconds


def run_bare(shape: str, tasks: int, workers: int) -> float:
    env = {**os.environ, "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])}

    def one(_: int) -> None:
        subprocess.run(["/bin/sh", "-c", COMMAND], env=env, check=True, stdout=subprocess.DEVNULL)

    started = time.perf_counter()
    if shape == "deep":
        for index in range(tasks):
            one(index)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(one, range(tasks)))
    return time.perf_counter() - started


def cpu_model() -> str:
    """The CPU's model name (Linux), or the machine type."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--max-parallel", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the median is reported")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        (repo / ".git").mkdir(parents=True)
        (repo / "orchestra").mkdir()
        os.environ["ORCHESTRA_LOCAL_HOME"] = str(repo / ".orchestra_local")
        for shape in ("wide", "deep"):
            engine = statistics.median(run_engine(repo, shape, args.tasks, args.max_parallel) for _ in range(args.repeat))
            bare = statistics.median(run_bare(shape, args.tasks, args.max_parallel) for _ in range(args.repeat))
            rows.append((shape, engine, bare, (engine - bare) / args.tasks * 1000))
    print(f"# engine overhead: {args.tasks} no-op PYTHON tasks, max-parallel {args.max_parallel}, "
          f"median of {args.repeat}")
    print(f"machine: {cpu_model()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d')}")
    print()
    print("| shape | orchestra-local (s) | bare subprocesses (s) | overhead per task (ms) |")
    print("|---|---:|---:|---:|")
    for shape, engine, bare, per_task in rows:
        print(f"| {shape} | {engine:.2f} | {bare:.2f} | {per_task:.1f} |")


if __name__ == "__main__":
    main()
