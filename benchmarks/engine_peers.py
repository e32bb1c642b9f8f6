"""The peers of ``engine_overhead.py``: Prefect 3 and Dagster, each in a cached virtual environment.

Each peer runs as a child process of the benchmark: a script written here to a temporary folder,
run by the peer's own interpreter from ``~/.cache/orchestra-local-bench/<name>-<version>``
(created on first use with ``python3.11 -m venv`` and pip, exact pins below; never the project's
virtualenv). Every task runs the same ``/bin/sh -c "python -c pass"`` as orchestra-local and the
bare floor. Invoked by the benchmark as ``<peer python> <script> <contender> <shape> <tasks> <workers>``.

- **prefect**: a flow of N tasks with the ephemeral API (no server; ``PREFECT_HOME`` a temporary
  folder). Chain: each task is called after the previous one returned. Wide: all N submitted to a
  ``ThreadPoolTaskRunner`` of ``workers`` threads, then awaited.
- **dagster-in-process**: a job of N ops run with ``execute_in_process`` (its in-process executor
  runs one op at a time, so wide runs serially too). Chain: each op has a ``Nothing`` input from
  the previous one.
- **dagster-multiprocess**: the same job with the multiprocess executor (``max_concurrent`` =
  workers; one process per op), through ``execute_job`` on a persistent instance in
  ``DAGSTER_HOME`` (a temporary folder).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

CACHE_ROOT = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "orchestra-local-bench"
"""Where the peers' virtual environments are kept between runs."""

BASE_PYTHON = os.environ.get("BENCH_PEER_PYTHON", "python3.11")
"""Interpreter the peers' environments are created from [env BENCH_PEER_PYTHON]."""


@dataclass(frozen=True)
class Peer:
    """One peer package, pinned."""

    name: str
    version: str

    @property
    def venv(self) -> Path:
        """Its cached virtual environment."""
        return CACHE_ROOT / f"{self.name}-{self.version}"

    @property
    def python(self) -> Path:
        """The environment's interpreter."""
        return self.venv / "bin" / "python"


PEERS = {"prefect": Peer("prefect", "3.9.1"), "dagster": Peer("dagster", "1.13.29")}
CONTENDERS = {"prefect": "prefect", "dagster-in-process": "dagster", "dagster-multiprocess": "dagster"}
"""Each peer contender and the package it needs."""


def installed_version(peer: Peer) -> str | None:
    """The version of ``peer`` in its cached environment, or None when the environment is unusable."""
    if not peer.python.exists():
        return None
    probe = subprocess.run([str(peer.python), "-c", f"import importlib.metadata as m; print(m.version({peer.name!r}))"],
                           capture_output=True, text=True)
    return probe.stdout.strip() if probe.returncode == 0 else None


def ensure_venv(peer: Peer) -> Path:
    """The peer's interpreter, creating its environment first when missing or of another version.

    Raises:
        subprocess.CalledProcessError: venv or pip failed.
    """
    if installed_version(peer) == peer.version:
        return peer.python
    print(f"creating {peer.venv} ({peer.name}=={peer.version}); takes a few minutes once", file=sys.stderr)
    shutil.rmtree(peer.venv, ignore_errors=True)
    peer.venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([BASE_PYTHON, "-m", "venv", str(peer.venv)], check=True)
    subprocess.run([str(peer.python), "-m", "pip", "install", "--quiet", f"{peer.name}=={peer.version}"], check=True)
    return peer.python


def peer_environment(home: Path) -> dict[str, str]:
    """Environment variables of a peer's run: its state in ``home``, telemetry and banners off."""
    return {
        "PREFECT_HOME": str(home / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "DO_NOT_TRACK": "1",
        "DAGSTER_HOME": str(home / "dagster"),
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }


def write_script(folder: Path) -> Path:
    """Write the peers' script into ``folder``; returns its path."""
    (folder / "dagster").mkdir(parents=True, exist_ok=True)
    (folder / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    path = folder / "peer_pipeline.py"
    path.write_text(SCRIPT)
    return path


SCRIPT = r'''
"""A peer pipeline of N tasks, each running /bin/sh -c "python -c pass" (engine_peers.py)."""
import subprocess
import sys

COMMAND = ["/bin/sh", "-c", "python -c pass"]


def work():
    subprocess.run(COMMAND, check=True, stdout=subprocess.DEVNULL)


def run_prefect(shape, tasks, workers):
    from prefect import flow, task
    from prefect.task_runners import ThreadPoolTaskRunner

    step = task(work, name="step")

    @flow(name=f"overhead-{shape}", task_runner=ThreadPoolTaskRunner(max_workers=workers))
    def pipeline():
        if shape == "chain":
            for _ in range(tasks):
                step()
        else:
            futures = [step.submit() for _ in range(tasks)]
            for future in futures:
                future.result()

    pipeline()


def dagster_job(shape, tasks, executor):
    from dagster import In, Nothing, job, op

    def make(index):
        ins = {"after": In(Nothing)} if shape == "chain" and index else {}

        @op(name=f"t{index}", ins=ins)
        def step():
            work()

        return step

    steps = [make(index) for index in range(tasks)]

    @job(name=f"overhead_{shape}", executor_def=executor)
    def pipeline():
        previous = None
        for index, step in enumerate(steps):
            previous = step(previous) if shape == "chain" and index else step()

    return pipeline


def multiprocess_job():
    """The job as each op's process rebuilds it (from this file; its shape comes in the environment)."""
    import os

    from dagster import multiprocess_executor

    return dagster_job(os.environ["PEER_SHAPE"], int(os.environ["PEER_TASKS"]), multiprocess_executor)


def run_dagster(contender, shape, tasks, workers):
    from dagster import DagsterInstance, execute_job, in_process_executor, reconstructable

    import os

    os.environ.update(PEER_SHAPE=shape, PEER_TASKS=str(tasks))
    if contender == "dagster-in-process":
        result = dagster_job(shape, tasks, in_process_executor).execute_in_process()
    else:
        with DagsterInstance.get() as instance:
            result = execute_job(
                reconstructable(multiprocess_job), instance=instance,
                run_config={"execution": {"config": {"max_concurrent": workers}}},
            )
    if not result.success:
        raise SystemExit("dagster run failed")


if __name__ == "__main__":
    contender, shape, tasks, workers = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    if contender == "prefect":
        run_prefect(shape, tasks, workers)
    else:
        run_dagster(contender, shape, tasks, workers)
'''
