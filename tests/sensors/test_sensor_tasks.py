"""Sensors as pipeline tasks: the real ``orchestra-local run`` on pipeline YAML with ``project_dir: sensors``."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e]

SENSORS_DIR = Path(__file__).resolve().parents[2] / "sensors"
PIPELINE = """
version: v1
name: wait then load
pipeline:
  wait:
    tasks:
      wait_for_orders:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        configuration: {{retries: 2, retry_delay: 0, timeout: {task_timeout}}}
        parameters:
          project_dir: sensors
          set_outputs: true
          command: >-
            python -m sensors files --root {root} --domain sales --strategy pending
            --timeout {sensor_timeout} --poke-interval 0.4 {soft_fail}
  load:
    depends_on: [wait]
    condition: "${{{{ tasks['wait_for_orders'].status == 'SUCCEEDED' and tasks['wait_for_orders'].outputs['ready'] == True }}}}"
    tasks:
      load_orders:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        parameters: {{source: INLINE, code: "print('loading')"}}
"""
def _task_table(cli: Callable[..., subprocess.CompletedProcess[str]], repo: Path, run_id: str) -> str:
    """``orchestra-local runs RUN`` as printed on a wide terminal (rich fits tables to COLUMNS)."""
    return cli("runs", run_id, cwd=repo, env={"COLUMNS": "250"}).stdout


_DEADLINE = re.compile(r"\(deadline (\S+), ")


@pytest.fixture
def sensor_repo(repo: Path) -> Path:
    """A repository holding this project's sensors/ (Python tasks run in the runner's environment)."""
    shutil.copytree(SENSORS_DIR, repo / "sensors", ignore=shutil.ignore_patterns("__pycache__"))
    return repo


def _run(cli: Callable[..., subprocess.CompletedProcess[str]], repo: Path, **fields: object
         ) -> tuple[subprocess.CompletedProcess[str], str]:
    (repo / "orchestra" / "wait.yml").write_text(PIPELINE.format(root=repo / "datasets", **fields))
    ran = cli("run", "orchestra/wait.yml", cwd=repo)
    (run_id,) = re.findall(r"^pipeline run (\S+) of ", ran.stdout, flags=re.MULTILINE)
    return ran, run_id


def test_a_retried_sensor_task_ends_at_the_deadline_of_its_first_attempt(cli, sensor_repo: Path) -> None:
    # attempt 1 is killed by the task timeout (2 s) one second before the sensor's deadline (3 s);
    # attempt 2 pokes for that last second only; attempt 3 starts after the deadline and stops at once
    ran, run_id = _run(cli, sensor_repo, task_timeout=2, sensor_timeout=3, soft_fail="")
    logs = [cli("logs", run_id, "wait_for_orders", "--attempt", str(n), cwd=sensor_repo).stdout for n in (1, 2, 3)]

    assert ran.returncode == 1
    assert "attempt 1 failed (timed out after 2 seconds" in ran.stdout
    deadlines = [set(_DEADLINE.findall(log)) for log in logs[:2]]
    assert len(deadlines[0]) == 1 and deadlines[0] == deadlines[1], deadlines
    assert "keeping the deadline" in logs[1]
    assert "the deadline had passed before this attempt" in logs[2] and not _DEADLINE.findall(logs[2])
    assert re.search(r"load\.load_orders\W+\S+\W+SKIPPED", _task_table(cli, sensor_repo, run_id))


def test_a_soft_failed_sensor_skips_the_load_and_the_run_succeeds(cli, sensor_repo: Path) -> None:
    ran, run_id = _run(cli, sensor_repo, task_timeout=60, sensor_timeout=1, soft_fail="--soft-fail")
    shown = _task_table(cli, sensor_repo, run_id)

    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert f"pipeline run {run_id} SUCCEEDED" in ran.stdout
    assert re.search(r"wait\.wait_for_orders\W+\S+\W+SUCCEEDED", shown), shown
    assert re.search(r"load\.load_orders\W+\S+\W+SKIPPED", shown), shown


def test_a_met_sensor_lets_the_load_run_with_its_outputs(cli, sensor_repo: Path) -> None:
    pending = sensor_repo / "datasets" / "pending" / "sales"
    pending.mkdir(parents=True)
    (pending / "orders-0001.csv").write_text("o_orderkey\n1\n")
    ran, run_id = _run(cli, sensor_repo, task_timeout=60, sensor_timeout=30, soft_fail="--soft-fail")
    shown = _task_table(cli, sensor_repo, run_id)

    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert re.search(r"load\.load_orders\W+\S+\W+SUCCEEDED", shown), shown
