"""Engine overhead: orchestra-local against Prefect 3, Dagster and bare subprocesses, in one run.

Every contender runs the same pipelines as a child process of this script, timed from process
start to exit, on the same machine in the same run:

- **start-up**: a 1-task pipeline (for orchestra-local also ``orchestra-local validate
  orchestra/tpch_elt.yml``);
- **wide**: N independent tasks at ``--max-parallel`` workers;
- **chain**: N tasks, each waiting on the previous one.

Every task runs ``/bin/sh -c "python -c pass"``; the floor is the same N processes started bare
from a thread pool of the same size (wide) or one after another (chain). For every contender:

    per-task overhead (ms) = (total - start-up - bare) / N

Contenders: ``orchestra-local`` (``orchestra-local run <file> --max-parallel W --no-progress``,
its SQLite store, log files and process records as in any run), ``prefect``,
``dagster-in-process`` and ``dagster-multiprocess`` (``engine_peers.py``: each in its own
virtual environment, cached under ``~/.cache/orchestra-local-bench/``). One unmeasured warm-up run
per measurement comes first (database files created, Orchestra's validator verdict cached,
bytecode compiled: ``compileall`` of ``orchestra_local/``, as a wheel install does); a peer's
wide and chain runs follow its warmed-up 1-task runs without another warm-up (a dagster-multiprocess
run of 200 ops takes minutes).

    .venv/bin/python benchmarks/engine_overhead.py                          # all, N=200: ~25 min
    .venv/bin/python benchmarks/engine_overhead.py --contenders orchestra-local --repeat 5
    .venv/bin/python benchmarks/engine_overhead.py --tasks 50 --peer-repeat 1
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import engine_peers

REPO = Path(__file__).resolve().parents[1]
ORCHESTRA_LOCAL = Path(sys.executable).with_name("orchestra-local")
COMMAND = "python -c pass"
SHAPES = ("wide", "chain")


@dataclass
class Row:
    """One contender's medians, in seconds (``validate``: orchestra-local only)."""

    contender: str
    version: str
    startup: float
    totals: dict[str, float]
    validate: float | None = None


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of every child: ``python`` is this interpreter (the tasks' ``python -c pass``)."""
    env = {**os.environ, "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])}
    return {**env, **(extra or {})}


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    """Wall seconds of a child process from start to exit.

    Raises:
        SystemExit: The child failed (its stderr's last lines are shown).
    """
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}:\n" + "\n".join(done.stderr.splitlines()[-15:]))
    return seconds


def pipeline_yaml(shape: str, tasks: int) -> str:
    """An orchestra-local pipeline of ``tasks`` PYTHON tasks, independent (wide) or chained."""
    lines = ["version: v1", f"name: overhead {shape}", "pipeline:", "  g:", "    tasks:"]
    for index in range(tasks):
        depends = f", depends_on: [t{index - 1}]" if shape == "chain" and index else ""
        lines.append(f"      t{index}: {{integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, "
                     f"parameters: {{command: '{COMMAND}'}}{depends}}}")
    return "\n".join(lines) + "\n"


def median_of(repeat: int, measure: Callable[[], float], warm_up: bool = True) -> float:
    """Median seconds of ``repeat`` runs, after one unmeasured warm-up unless ``warm_up`` is False."""
    if warm_up:
        measure()
    return statistics.median(measure() for _ in range(repeat))


def measure_orchestra_local(tmp: Path, tasks: int, workers: int, repeat: int) -> Row:
    """Start-up (validate, 1-task run) and wide/chain totals of ``orchestra-local``, in seconds."""
    compileall.compile_dir(REPO / "orchestra_local", quiet=1)
    repo = tmp / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "orchestra").mkdir()
    env = child_env({"ORCHESTRA_LOCAL_HOME": str(repo / ".orchestra_local")})
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    files = {"one": 1, "wide": tasks, "chain": tasks}
    for name, count in files.items():
        (repo / "orchestra" / f"{name}.yml").write_text(pipeline_yaml(name if name != "one" else "wide", count))

    def run(name: str) -> float:
        return timed([str(ORCHESTRA_LOCAL), "run", f"orchestra/{name}.yml", "--max-parallel", str(workers),
                      "--no-progress"], env, repo)

    validate = median_of(repeat, lambda: timed([str(ORCHESTRA_LOCAL), "validate", "orchestra/tpch_elt.yml"],
                                               {**env, "ORCHESTRA_LOCAL_HOME": str(tmp / "validate-state")}, REPO))
    startup = median_of(repeat, lambda: run("one"))
    totals = {shape: median_of(repeat, lambda shape=shape: run(shape)) for shape in SHAPES}
    version = subprocess.run([str(ORCHESTRA_LOCAL), "--version"], capture_output=True, text=True).stdout.split()[-1]
    return Row("orchestra-local", version, startup, totals, validate)


def measure_peer(contender: str, tmp: Path, tasks: int, workers: int, repeat: int) -> Row:
    """Start-up and wide/chain totals of a peer (``engine_peers.py``), in seconds."""
    peer = engine_peers.PEERS[engine_peers.CONTENDERS[contender]]
    python = engine_peers.ensure_venv(peer)
    home = tmp / contender
    script = engine_peers.write_script(home)
    env = child_env(engine_peers.peer_environment(home))

    def run(shape: str, count: int) -> float:
        return timed([str(python), str(script), contender, shape, str(count), str(workers)], env, home)

    startup = median_of(repeat, lambda: run("chain", 1))
    # The 1-task warm-up already created the peer's database and compiled its bytecode.
    totals = {shape: median_of(repeat, lambda shape=shape: run(shape, tasks), warm_up=False) for shape in SHAPES}
    return Row(contender, peer.version, startup, totals)


def run_bare(shape: str, tasks: int, workers: int) -> float:
    """Seconds to run ``tasks`` bare ``/bin/sh -c "python -c pass"`` (chain: one after another)."""
    env = child_env()

    def one(_: int) -> None:
        subprocess.run(["/bin/sh", "-c", COMMAND], env=env, check=True, stdout=subprocess.DEVNULL)

    started = time.perf_counter()
    if shape == "chain":
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


def report(rows: list[Row], bare: dict[str, float], tasks: int, args: argparse.Namespace) -> None:
    """Print the markdown section: machine, versions, one row per contender."""
    print(f"# engine overhead: {tasks} tasks of `{COMMAND}`, max-parallel {args.max_parallel}, "
          f"median of {args.repeat} (peers: {args.peer_repeat}) after a warm-up")
    print(f"machine: {cpu_model()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"load average before {args.load_before}, {time.strftime('%Y-%m-%d')}")
    print()
    print("| contender | version | start-up, 1 task (s) | wide total (s) | wide per task (ms) "
          "| chain total (s) | chain per task (ms) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    print(f"| bare subprocesses (floor) | | | {bare['wide']:.2f} | | {bare['chain']:.2f} | |")
    for row in rows:
        per_task = {s: (row.totals[s] - row.startup - bare[s]) / tasks * 1000 for s in SHAPES}
        print(f"| {row.contender} | {row.version} | {row.startup:.2f} | {row.totals['wide']:.2f} | "
              f"{per_task['wide']:.1f} | {row.totals['chain']:.2f} | {per_task['chain']:.1f} |")
    for row in rows:
        if row.validate is not None:
            print()
            print(f"`orchestra-local validate orchestra/tpch_elt.yml`: {row.validate:.2f} s (process wall time).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=200, help="tasks per wide/chain pipeline (N)")
    parser.add_argument("--max-parallel", type=int, default=2, help="workers for wide (and every contender's pool)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per orchestra-local and bare measurement")
    parser.add_argument("--peer-repeat", type=int, default=1,
                        help="runs per peer measurement (dagster-multiprocess takes ~10 min per run at N=200)")
    parser.add_argument("--contenders", default=",".join(["orchestra-local", *engine_peers.CONTENDERS]),
                        help="comma-separated subset of orchestra-local," + ",".join(engine_peers.CONTENDERS))
    args = parser.parse_args()
    args.load_before = f"{os.getloadavg()[0]:.2f}"
    chosen = [c.strip() for c in args.contenders.split(",") if c.strip()]
    unknown = set(chosen) - {"orchestra-local", *engine_peers.CONTENDERS}
    if unknown:
        parser.error(f"unknown contenders: {', '.join(sorted(unknown))}")
    rows = []
    samples: dict[str, list[float]] = {shape: [] for shape in SHAPES}

    def measure_bare() -> None:  # before and after the contenders: the load may change meanwhile
        for shape in SHAPES:
            samples[shape] += [run_bare(shape, args.tasks, args.max_parallel) for _ in range(args.repeat)]

    with tempfile.TemporaryDirectory(prefix="engine-overhead-") as folder:
        tmp = Path(folder)
        run_bare("chain", min(args.tasks, 20), 1)  # warm-up
        measure_bare()
        for contender in chosen:
            print(f"measuring {contender} ...", file=sys.stderr, flush=True)
            if contender == "orchestra-local":
                rows.append(measure_orchestra_local(tmp, args.tasks, args.max_parallel, args.repeat))
            else:
                rows.append(measure_peer(contender, tmp, args.tasks, args.max_parallel, args.peer_repeat))
        measure_bare()
    bare = {shape: statistics.median(values) for shape, values in samples.items()}
    report(rows, bare, args.tasks, args)


if __name__ == "__main__":
    main()
