"""The pipeline sensor and ``--trigger`` against a real ``orchestra-local serve``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.e2e.serving import serving

if TYPE_CHECKING:
    from conftest import SensorProcess, SensorResult

pytestmark = [pytest.mark.e2e]

TOKEN = "sensors-api-token-0123456789abcdef"
UPSTREAM = """
version: v1
name: upstream
pipeline:
  work:
    tasks:
      step:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        parameters: {source: INLINE, code: "import time; time.sleep(1)"}
"""
DOWNSTREAM = """
version: v1
name: downstream
inputs:
  file_count: {type: number}
pipeline:
  load:
    tasks:
      step:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        parameters: {source: INLINE, code: "print(${{ inputs.file_count }})"}
"""
RUN_IDS = {"ORCHESTRA_PIPELINE_RUN_ID": "7a1d9a0e-1b7e-4f43-9a52-3c3b8e5f0a01",
           "ORCHESTRA_TASK_RUN_ID": "c2b1f4de-9d55-4c8f-8c53-2f5e0b7d6a02"}


@pytest.fixture
def api(repo: Path) -> Iterator[httpx.Client]:
    (repo / "orchestra" / "upstream.yml").write_text(UPSTREAM)
    (repo / "orchestra" / "downstream.yml").write_text(DOWNSTREAM)
    with serving({}, repo, TOKEN) as url, httpx.Client(
            base_url=f"{url}/api/engine/public", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as client:
        yield client


def _sensor_api_args(api: httpx.Client) -> tuple[str, ...]:
    return ("--api-url", str(api.base_url).rstrip("/"), "--token-env", "SENSOR_TOKEN")


def _runs_of(api: httpx.Client, alias: str) -> list[dict]:
    pipeline_id = api.get("/pipeline", params={"alias": alias}).json()["id"]
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    return api.get("/pipeline_runs", params={"pipeline_ids": pipeline_id, "time_from": since}).json()["results"]


def test_pipeline_sensor_is_met_when_the_upstream_run_succeeds(
        api: httpx.Client, start_sensor: Callable[..., SensorProcess]) -> None:
    running = start_sensor("pipeline", "--pipeline-id", "upstream", "--statuses", "SUCCEEDED", "--since", "1h",
                           "--poke-interval", "0.3", "--timeout", "90", *_sensor_api_args(api),
                           env={"SENSOR_TOKEN": TOKEN})
    running.wait_for_pokes(1)
    started = api.post("/pipelines/upstream/start", json={}).json()["pipelineRunId"]
    result = running.result()

    assert result.returncode == 0, result.stderr
    assert result.outputs["pipeline_run_id"] == started and result.outputs["run_status"] == "SUCCEEDED"
    details = [poke.detail for poke in result.pokes]
    assert details[0].startswith("no run of upstream since")
    assert any(detail.endswith("is RUNNING, waiting for SUCCEEDED") for detail in details), details
    assert TOKEN not in result.stdout + result.stderr


def test_pipeline_sensor_fails_at_once_on_a_wrong_token(api: httpx.Client, sensor: Callable[..., SensorResult]) -> None:
    result = sensor("pipeline", "--pipeline-id", "upstream", "--timeout", "60", *_sensor_api_args(api),
                    env={"SENSOR_TOKEN": "wrong-token-never-printed"})

    assert result.returncode == 1 and "HTTP 401" in result.stderr and result.pokes == []
    assert "wrong-token-never-printed" not in result.stdout + result.stderr


def test_trigger_starts_the_pipeline_once_however_often_the_sensor_is_retried(
        api: httpx.Client, tmp_path: Path, sensor: Callable[..., SensorResult]) -> None:
    pending = tmp_path / "datasets" / "pending" / "sales"
    pending.mkdir(parents=True)
    for n in (1, 2):
        (pending / f"orders-{n}.csv").write_text("o\n1\n")
    args = ("files", "--root", str(tmp_path / "datasets"), "--domain", "sales", "--timeout", "60",
            "--trigger", "downstream", "--trigger-input", "file_count=file_count", *_sensor_api_args(api))
    env = {**RUN_IDS, "SENSOR_TOKEN": TOKEN}

    first = sensor(*args, env=env)
    retried = sensor(*args, env=env)  # e.g. the task was retried after a later step of it failed

    assert first.returncode == 0, first.stderr
    run_id = first.outputs["triggered_pipeline_run_id"]
    assert retried.returncode == 0 and retried.outputs["triggered_pipeline_run_id"] == run_id
    assert "downstream was already started by this sensor" in retried.stderr
    assert "met the condition; not poking again" in retried.stderr and retried.pokes == []
    (run,) = _runs_of(api, "downstream")
    assert run["id"] == run_id


def test_a_start_whose_answer_was_lost_is_adopted_not_sent_again(
        api: httpx.Client, tmp_path: Path, sensor_env: dict[str, str], sensor: Callable[..., SensorResult]) -> None:
    # attempt 1 stored its intent and sent the start; the run began, the answer never came back
    intent_at = datetime.now(UTC)
    state = Path(sensor_env["SENSORS_STATE_DIR"]) / RUN_IDS["ORCHESTRA_PIPELINE_RUN_ID"]
    state.mkdir(parents=True)
    (state / f"{RUN_IDS['ORCHESTRA_TASK_RUN_ID']}.json").write_text(json.dumps({
        "first_poke_at": intent_at.isoformat(), "deadline": (intent_at + timedelta(minutes=5)).isoformat(),
        "trigger": {"pipeline": "downstream", "intent_at": intent_at.isoformat(), "pipeline_run_id": None}}))
    lost = api.post("/pipelines/downstream/start", json={"runInputs": {"file_count": 0}}).json()["pipelineRunId"]

    retried = sensor("files", "--root", str(tmp_path), "--domain", "sales", "--strategy", "none", "--timeout", "60",
                     "--trigger", "downstream", *_sensor_api_args(api), env={**RUN_IDS, "SENSOR_TOKEN": TOKEN})

    assert retried.returncode == 0, retried.stderr
    assert retried.outputs["triggered_pipeline_run_id"] == lost
    assert "adopting pipeline run" in retried.stderr
    assert [run["id"] for run in _runs_of(api, "downstream")] == [lost]
