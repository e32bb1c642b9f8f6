"""``orchestra-local runs RUN`` and ``orchestra-local logs RUN TASK``: a run's task run ids and each attempt's log."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestra_local.store import RunStore

pytestmark = pytest.mark.e2e

PIPELINE = """\
version: v1
name: Logs
pipeline:
  load:
    matrix:
      inputs:
        table: [alpha, beta]
    tasks:
      copy:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        parameters:
          project_dir: scripts
          command: python copy.py ${{ MATRIX.table }}
  check:
    depends_on: [load]
    tasks:
      flaky:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        configuration: {retries: 1, retry_delay: 1}
        parameters: {project_dir: scripts, command: python flaky.py}
"""
FLAKY = """\
from pathlib import Path
marker = Path("attempted")
if not marker.exists():
    marker.write_text("1")
    raise SystemExit("first attempt fails on purpose")
print("second attempt succeeds")
"""


@pytest.fixture
def run_id(cli, repo: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (repo / "orchestra" / "logs.yml").write_text(PIPELINE)
    (repo / "scripts").mkdir()
    (repo / "scripts" / "copy.py").write_text("import sys\nprint('copied', sys.argv[1])\n")
    (repo / "scripts" / "flaky.py").write_text(FLAKY)
    result = cli("run", str(repo / "orchestra" / "logs.yml"), "--no-progress", cwd=repo,
                 env={"ORCHESTRA_LOCAL_RETRY_DELAY_SCALE": "0"})
    assert result.returncode == 0, result.stdout + result.stderr
    return str(store().list_pipeline_runs()[0]["id"])


def store() -> RunStore:
    return RunStore(f"sqlite:///{Path(os.environ['ORCHESTRA_LOCAL_HOME']) / 'metadata.db'}")


def test_runs_shows_task_run_ids_and_logs_prints_the_latest_attempt(cli, repo: Path, run_id: str) -> None:
    flaky = next(task for task in store().list_task_runs(run_id) if task["task_id"] == "flaky")
    shown = cli("runs", run_id, cwd=repo)
    assert shown.returncode == 0 and flaky["id"] in shown.stdout and "load.copy[beta]" in shown.stdout

    latest = cli("logs", run_id, "flaky", cwd=repo)
    assert latest.returncode == 0, latest.stderr
    assert "second attempt succeeds" in latest.stdout and "first attempt fails" not in latest.stdout
    assert f"2/command.log  (task run {flaky['id']}, attempt 2)" in latest.stdout
    first = cli("logs", run_id, flaky["id"], "--attempt", "1", cwd=repo)
    assert first.returncode == 0 and "first attempt fails on purpose" in first.stdout

    beta = cli("logs", run_id, "copy[beta]", cwd=repo)
    assert beta.returncode == 0 and "copied beta" in beta.stdout and "copied alpha" not in beta.stdout
    assert cli("logs", run_id, "load.copy[alpha]", cwd=repo).stdout.count("copied alpha") == 1


@pytest.mark.parametrize(("args", "message"), [
    (["copy"], "'copy' is a matrix task with 2 iterations; name one: load.copy[alpha], load.copy[beta]"),
    (["ghost"], "no task 'ghost' in this run; its tasks: load.copy[alpha], load.copy[beta], check.flaky"),
    (["flaky", "--attempt", "3"], "no logs of attempt 3; attempts with logs: 1, 2"),
])
def test_a_task_that_cannot_be_told_is_exit_2_with_the_names_to_use(cli, repo: Path, run_id: str, args: list[str],
                                                                     message: str) -> None:
    result = cli("logs", run_id, *args, cwd=repo)
    assert result.returncode == 2 and message in result.stderr
