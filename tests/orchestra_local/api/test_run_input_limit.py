"""The run-input bound (``limits.MAX_RUN_INPUT_BYTES``) holds for API starts too (shared path:
``engine/inputs.resolve_inputs`` through ``engine/runner.prepare_run``)."""

from __future__ import annotations

from orchestra_local.spec.limits import MAX_RUN_INPUT_BYTES

PIPELINE = """version: v1
name: takes rows
inputs:
  rows: {type: list}
  day: {type: string}
  region: {type: string}
pipeline:
  g:
    tasks:
      t: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, parameters: {command: python py/task.py}}
"""


def test_a_start_with_oversized_run_inputs_is_a_400_naming_the_limit(api, write_pipeline) -> None:
    write_pipeline("takes_rows", PIPELINE)
    rows = ["x" * 1000] * (MAX_RUN_INPUT_BYTES // 1000 + 1)
    response = api.post("/pipelines/takes_rows/start", json={"runInputs": {"rows": rows, "day": "d", "region": "r"}})
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert f"the limit is {MAX_RUN_INPUT_BYTES:,} bytes" in detail and "xxxx" not in detail


def test_a_start_lists_every_missing_input(api, write_pipeline) -> None:
    write_pipeline("takes_rows", PIPELINE)
    response = api.post("/pipelines/takes_rows/start", json={"runInputs": {"rows": []}})
    assert response.status_code == 400 and response.json() == {"detail": "Missing required pipeline inputs: day, region"}
