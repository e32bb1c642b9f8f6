"""``run_multiple_pipelines.py`` when runs fail, hang or are only triggered, against a real ``serve``.

The pipeline here is made by the test: one Python task that fails on one chosen day and sleeps as
long as a run input says.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestra_local.store import RunStore
from tests.e2e.serving import serving

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "run_multiple_pipelines.py"
TOKEN = "outcomes-token-0123456789abcdef"
PIPELINE = """\
version: v1
name: Day check
inputs:
  start_date: {type: string}
  end_date: {type: string}
  sleep_seconds: {type: string, default: "0"}
pipeline:
  check:
    tasks:
      check_day:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        configuration: {retries: 0}
        parameters:
          project_dir: scripts
          command: python check_day.py ${{ inputs.start_date }} ${{ inputs.sleep_seconds }}
"""
CHECK = """\
import sys, time
time.sleep(float(sys.argv[2]))
if sys.argv[1] == "2024-01-02":
    sys.exit("2024-01-02 is a bad day")
print("ok", sys.argv[1])
"""


@pytest.fixture
def server(repo: Path) -> Iterator[str]:
    (repo / "orchestra" / "day_check.yml").write_text(PIPELINE)
    (repo / "scripts").mkdir()
    (repo / "scripts" / "check_day.py").write_text(CHECK)
    with serving({}, repo, TOKEN) as url:
        yield url


def batch(tmp_path: Path, server: str, *args: str, sleep: str = "0",
          backfill: tuple[str, str] = ("2024-01-01", "2024-01-04")) -> tuple[int, dict[str, Any]]:
    config = tmp_path / "days.json"
    config.write_text(json.dumps({"workspaces": {"w": "DAY_TOKEN"}, "pipelines": [
        {"workspace": "w", "pipeline": "day_check", "run_inputs": {"sleep_seconds": sleep},
         "backfill": {"start": backfill[0], "end": backfill[1], "step": "1 day",
                      "inputs": {"start_date": "{window_start}", "end_date": "{window_end}"}}}]}))
    result = subprocess.run([sys.executable, str(SCRIPT), "--config", str(config), "--app-url", server,
                             "--output", "json", *args], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "DAY_TOKEN": TOKEN}, timeout=300)
    assert result.stdout.strip(), result.stderr
    return result.returncode, json.loads(result.stdout)


def server_runs() -> list[dict[str, Any]]:
    return RunStore(f"sqlite:///{Path(os.environ['ORCHESTRA_LOCAL_HOME']) / 'metadata.db'}").list_pipeline_runs()


def test_stop_on_failure_starts_nothing_after_a_failed_window(server: str, tmp_path: Path) -> None:
    code, document = batch(tmp_path, server, "--wait", "--stop-on-failure")
    assert code == 1
    assert [(run["outcome"], run["status"]) for run in document["runs"]] == [
        ("ended", "SUCCEEDED"), ("ended", "FAILED"), ("not_started", None), ("not_started", None)]
    assert "--stop-on-failure" in document["runs"][2]["message"]
    assert len(server_runs()) == 2

    code, document = batch(tmp_path, server, "--wait")  # resumed: the failed day again, then the rest
    assert code == 1
    assert [(run["outcome"], run["status"]) for run in document["runs"]] == [
        ("skipped", "SUCCEEDED"), ("ended", "FAILED"), ("ended", "SUCCEEDED"), ("ended", "SUCCEEDED")]
    assert len(server_runs()) == 5


def test_a_run_past_its_timeout_is_reported_and_attached_to_again(server: str, tmp_path: Path) -> None:
    code, document = batch(tmp_path, server, "--wait", "--timeout", "2", sleep="8", backfill=("2024-01-01",) * 2)
    assert code == 1 and document["runs"][0]["outcome"] == "timed_out"
    assert "not ended after 2s" in document["runs"][0]["message"]
    code, document = batch(tmp_path, server, "--wait", sleep="8", backfill=("2024-01-01",) * 2)
    assert code == 0
    assert (document["runs"][0]["origin"], document["runs"][0]["status"]) == ("attached", "SUCCEEDED")
    assert len(server_runs()) == 1


def test_without_wait_every_window_is_only_triggered(server: str, tmp_path: Path) -> None:
    code, document = batch(tmp_path, server, "--max-concurrent", "4", sleep="5")
    assert code == 0
    assert [run["outcome"] for run in document["runs"]] == ["accepted"] * 4
    assert len(server_runs()) == 4


def test_a_failed_run_is_exit_1_and_a_refused_start_is_reported(server: str, tmp_path: Path) -> None:
    code, document = batch(tmp_path, server, "--wait", sleep="not-a-number-but-accepted",
                           backfill=("2024-01-01",) * 2)
    assert code == 1 and document["runs"][0]["status"] == "FAILED"  # the task fails, the start was fine
    config = tmp_path / "days.json"
    data = json.loads(config.read_text())
    data["pipelines"][0]["run_inputs"] = {"sleep_seconds": "0", "unknown_input": "x"}
    config.write_text(json.dumps(data))
    result = subprocess.run([sys.executable, str(SCRIPT), "--config", str(config), "--app-url", server, "--wait",
                             "--output", "json"], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "DAY_TOKEN": TOKEN}, timeout=300)
    document = json.loads(result.stdout)
    assert result.returncode == 1 and document["runs"][0]["outcome"] == "rejected"
    assert "HTTP 400" in document["runs"][0]["message"] and "unknown_input" in document["runs"][0]["message"]


def test_an_unwritable_state_file_stops_the_batch_before_any_start(server: str, tmp_path: Path) -> None:
    code, document = batch(tmp_path, server, "--state", "/proc/no-state-here/days.jsonl")
    assert code == 1 and [run["outcome"] for run in document["runs"]] == ["planned"] * 4
    assert server_runs() == []
