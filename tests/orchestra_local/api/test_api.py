"""The Orchestra-compatible API in process: auth, schema, start/status/cancel, lists, logs, errors."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from orchestra_local.api.app import PREFIX

TWO_TASKS = """
version: v1
name: two tasks
inputs:
  who: {type: string}
pipeline:
  g:
    tasks:
      first: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT,
              parameters: {project_dir: py, command: "python task.py --name ${{ inputs.who }}"}}
      second: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, depends_on: [first],
               parameters: {project_dir: py, command: "python task.py --name second"}}
"""

SLOW = """
version: v1
name: slow
pipeline:
  g:
    tasks:
      sleepy: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT,
               parameters: {project_dir: py, command: "python task.py --sleep 60 --pidfile PIDFILE"}}
"""


OPEN_ROUTES = {("POST", "/api/engine/public/pipelines/schema"), ("GET", "/api/engine/public/health"),
               ("GET", "/api/engine/public/openapi.json")}


def test_every_route_but_schema_needs_the_token(api) -> None:
    """Every route the app serves (new ones included) answers 401 without the token, before anything else."""
    run = "5b1f8a86-1b51-4b5e-9a3c-3d1c2a9e0f11"
    routes = [(method.upper(), path) for path, operations in api.app.openapi()["paths"].items()
              for method in operations]
    # all under PREFIX but the sensor-event webhook, which Orchestra serves on a host of its own
    assert len(routes) > 25 and all(path.startswith(PREFIX) or path == "/webhook" for _method, path in routes)
    for method, template in routes:
        if (method, template) in OPEN_ROUTES:
            continue
        path = template.replace("{integration}", "POSTGRES")
        for name in ("pipeline_run_id", "task_run_id", "environment_id", "asset_id", "pipeline_id_or_alias"):
            path = path.replace("{" + name + "}", run)
        missing = api.client.request(method, path)
        wrong = api.client.request(method, path, headers={"Authorization": "Bearer nope"})
        assert missing.status_code == 401, (method, template, missing.text)
        assert wrong.status_code == 401 and wrong.json() == {"detail": "Invalid or missing API key"}, (method, template)
    schema = api.client.post("/api/engine/public/pipelines/schema", json={"version": "v1"})
    assert schema.status_code == 422


def test_schema_endpoint_accepts_camel_case_and_locates_problems(api) -> None:
    good = {"version": "v1", "name": "x", "pipeline": {"g": {"dependsOn": [], "tasks": {"t": {
        "integration": "PYTHON", "integrationJob": "PYTHON_EXECUTE_SCRIPT", "parameters": {"command": "python x.py"},
        "treatFailureAsWarning": True}}}}}
    ok = api.post("/pipelines/schema", json=good)
    assert ok.status_code == 200 and ok.json() == {"message": "Pipeline schema is valid"}
    bad = {"version": "v1", "name": "x", "pipeline": {"g": {"tasks": {"t": {
        "integration": "PYTHON", "integration_job": "PYTHON_EXECUTE_SCRIPT", "parameters": {"command": "ls"}}}}},
        "schedule": [{"cron": "0 25 ? * * *"}]}
    response = api.post("/pipelines/schema", json=bad)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert {tuple(d["loc"]) for d in detail} == {("schedule", 0, "cron"), ("pipeline", "g", "tasks", "t", "parameters", "command")}
    assert all({"loc", "msg", "type"} <= set(d) for d in detail)
    assert api.post("/pipelines/schema", content=b"[1]", headers={"Content-Type": "application/json"}).status_code == 422


def test_start_status_task_runs_and_registry(api, write_pipeline) -> None:
    write_pipeline("two_tasks", TWO_TASKS)
    listed = api.get("/pipelines").json()
    assert [p["alias"] for p in listed] == ["two_tasks"]
    pipeline = api.get("/pipeline", params={"alias": "two_tasks"}).json()
    assert pipeline["yamlPath"] == "orchestra/two_tasks.yml" and pipeline["latestRunId"] is None
    missing = api.post("/pipelines/two_tasks/start", json={})
    assert missing.status_code == 400 and missing.json() == {"detail": "Missing required pipeline input: who"}
    assert api.post("/pipelines/nope/start").status_code == 404
    started = api.post(f"/pipelines/{pipeline['id']}/start", json={"runInputs": {"who": "api"}})
    assert started.status_code == 200
    run_id = started.json()["pipelineRunId"]
    record = api.wait(run_id)
    assert record["runStatus"] == "SUCCEEDED" and record["pipelineId"] == pipeline["id"]
    assert record["triggeredBy"] == [{"triggerType": "WEBHOOK"}]
    assert record["startedAt"].endswith("+00:00") and record["data"]["name"] == "two tasks"  # the definition
    page = api.get(f"/pipeline_runs/{run_id}/task_runs", params={"page_size": 1}).json()
    assert page["total"] == 2 and page["pageSize"] == 1 and len(page["results"]) == 1
    first = page["results"][0]
    assert first["taskId"] == "first" and first["status"] == "SUCCEEDED" and first["numberOfAttempts"] == 1
    assert first["taskParameters"]["command"] == "python task.py --name api"
    assert api.get("/pipeline", params={"alias": "two_tasks"}).json()["latestRunStatus"] == "SUCCEEDED"
    assert api.get(f"/pipeline_runs/{run_id}/task_runs", params={"page_size": 51}).status_code == 422


def test_lists_filter_and_paginate(api, write_pipeline) -> None:
    write_pipeline("two_tasks", TWO_TASKS)
    run_ids = [api.post("/pipelines/two_tasks/start", json={"runInputs": {"who": str(i)}}).json()["pipelineRunId"]
               for i in range(3)]
    for run_id in run_ids:
        api.wait(run_id)
    runs = api.get("/pipeline_runs", params={"page_size": 2}).json()
    assert runs["total"] == 3 and len(runs["results"]) == 2 and runs["page"] == 1
    chosen = api.get("/pipeline_runs", params={"pipeline_run_ids": ",".join(run_ids[:2])}).json()
    assert {r["id"] for r in chosen["results"]} == set(run_ids[:2])
    assert api.get("/pipeline_runs", params={"status": "FAILED"}).json()["total"] == 0
    old = api.get("/pipeline_runs", params={"time_to": "2020-01-01T00:00:00Z"}).json()
    assert old["total"] == 0
    task_runs = api.get("/task_runs", params={"integration": "PYTHON", "status": "SUCCEEDED"}).json()
    assert task_runs["total"] == 6
    operations = api.get("/operations", params={"operation_type": "INGESTION"}).json()
    assert operations["total"] == 6
    assert {"operationName", "operationStatus", "rowsAffected", "taskRunId"} <= set(operations["results"][0])
    assert api.get("/operations", params={"status": "NOPE"}).status_code == 422


def test_logs_and_artifacts_download_with_range(api, write_pipeline) -> None:
    write_pipeline("two_tasks", TWO_TASKS)
    run_id = api.post("/pipelines/two_tasks/start", json={"runInputs": {"who": "logs"}}).json()["pipelineRunId"]
    api.wait(run_id)
    task_run = api.get(f"/pipeline_runs/{run_id}/task_runs").json()["results"][0]
    base = f"/pipeline_runs/{run_id}/task_runs/{task_run['id']}"
    logs = api.get(f"{base}/logs").json()
    assert logs["filenames"] == ["1/command.log"]
    assert logs["files"]["1/command.log"]["attemptNumber"] == 1
    full = api.get(f"{base}/logs/download", params={"filename": "1/command.log"})
    assert full.status_code == 200 and full.text.startswith("task logs run ")
    part = api.get(f"{base}/logs/download", params={"filename": "1/command.log"}, headers={"Range": "bytes=0-3"})
    assert part.status_code == 206 and part.text == "task"
    assert api.get(f"{base}/logs/download", params={"filename": "../../metadata.db"}).status_code == 404
    assert api.get(f"{base}/artifacts").json() == {"filenames": []}
    other_run = "00000000-0000-0000-0000-000000000000"
    assert api.get(f"/pipeline_runs/{other_run}/task_runs/{task_run['id']}/logs").status_code == 404


def test_cancel_ends_the_run_and_its_processes(api, write_pipeline, task_repo: Path) -> None:
    pidfile = task_repo / "pid"
    write_pipeline("slow", SLOW.replace("PIDFILE", str(pidfile)))
    runs = [api.post("/pipelines/slow/start").json()["pipelineRunId"] for _ in range(2)]
    deadline = time.monotonic() + 30
    while not pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    statuses = {api.get(f"/pipeline_runs/{run}/status").json()["runStatus"] for run in runs}
    assert statuses == {"RUNNING"}  # two runs of one pipeline at once
    started = time.monotonic()
    for run in runs:
        assert api.post(f"/pipeline_runs/{run}/cancel").status_code == 204
    assert time.monotonic() - started < 20
    for run in runs:
        assert api.get(f"/pipeline_runs/{run}/status").json()["runStatus"] == "CANCELLED"
        task_statuses = {t["status"] for t in api.get(f"/pipeline_runs/{run}/task_runs").json()["results"]}
        assert task_statuses == {"CANCELLED"}
    pid = int(pidfile.read_text())
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1][:3]
    again = api.post(f"/pipeline_runs/{runs[0]}/cancel")
    assert again.status_code == 400 and "already CANCELLED" in again.json()["detail"]


def test_an_invalid_pipeline_file_answers_422(api, write_pipeline) -> None:
    write_pipeline("broken", "version: v1\nname: broken\npipeline:\n  g:\n    tasks: {}\n    tags: [x]\n")
    response = api.post("/pipelines/broken/start")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["pipeline", "g", "tags"]


@pytest.mark.parametrize("approved", [True, False], ids=["approved", "rejected"])
def test_approval_through_the_api(api, write_pipeline, approved: bool) -> None:
    write_pipeline("gated", """
version: v1
name: gated
pipeline:
  gate:
    tasks:
      approve: {integration: ORCHESTRA, integration_job: APPROVAL, parameters: {message: go?}}
""")
    run_id = api.post("/pipelines/gated/start").json()["pipelineRunId"]
    deadline = time.monotonic() + 30
    task_run = None
    while time.monotonic() < deadline:
        task_run = api.get(f"/pipeline_runs/{run_id}/task_runs").json()["results"][0]
        if task_run["externalStatus"] == "WAITING_FOR_APPROVAL":
            break
        time.sleep(0.05)
    assert task_run is not None and task_run["externalStatus"] == "WAITING_FOR_APPROVAL"
    decided = api.post(f"/task_runs/{task_run['id']}/approval", json={"approved": approved, "message": "by api"})
    assert decided.status_code == 200
    assert api.wait(run_id)["runStatus"] == ("SUCCEEDED" if approved else "FAILED")


def test_artifacts_list_and_download(api, write_pipeline) -> None:
    write_pipeline("inline", """
version: v1
name: inline
pipeline:
  g:
    tasks:
      t: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, parameters: {source: INLINE, code: "print('hi')"}}
""")
    run_id = api.post("/pipelines/inline/start").json()["pipelineRunId"]
    assert api.wait(run_id)["runStatus"] == "SUCCEEDED"
    task_run = api.get(f"/pipeline_runs/{run_id}/task_runs").json()["results"][0]
    base = f"/pipeline_runs/{run_id}/task_runs/{task_run['id']}"
    assert api.get(f"{base}/artifacts").json() == {"filenames": ["inline_attempt_1.py"]}
    script = api.get(f"{base}/artifacts/download", params={"filename": "inline_attempt_1.py"})
    assert script.status_code == 200 and script.text == "print('hi')"


def test_an_internal_error_answers_500_without_a_traceback(api) -> None:
    from sqlalchemy import text

    with api.app.state.service.store.engine.begin() as connection:
        connection.execute(text("drop table operations"))
    response = api.get("/operations")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error"}
    assert "Traceback" not in response.text and "operations" not in response.text
