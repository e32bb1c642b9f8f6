"""Every response of every served endpoint conforms to Orchestra's OpenAPI document.

A table of requests (successes and errors) runs against the app holding real runs, task runs,
logs, artifacts, operations, assets, environments and connections. Each response is validated
against the schema the document declares for its status; a status the document does not declare
must be one of our documented string errors (400, 401, 404, 413: ``{"detail": "..."}``). Every GET
path of the document is in the table, except the two that have no local meaning (listed below).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from orchestra_local.api.app import PREFIX, ApiSettings, create_app
from orchestra_local.integrations.dbt_artifacts import operations_from_results
from orchestra_local.settings import resolve_settings
from orchestra_local.workspace import Workspace
from tests.orchestra_local.api import openapi_contract as contract
from tests.orchestra_local.api.conftest import TOKEN, Api

NOT_SERVED = {
    "/public/compute_resources/azure/federated_credentials": "Azure hybrid compute does not exist locally",
    "/public/setup_guides/{file_path}": "the hosted UI's setup guides; not part of the runner",
}
STRING_ERRORS = {400, 401, 404, 413}
UNKNOWN = "5b1f8a86-1b51-4b5e-9a3c-3d1c2a9e0f11"

PIPELINE = """
version: v1
name: contract
inputs:
  who: {type: string}
pipeline:
  load:
    tasks:
      orders: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT,
               parameters: {project_dir: py, command: "python task.py --name raw.${{ inputs.who }}"}}
      inline: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, depends_on: [orders],
               parameters: {source: INLINE, code: "print('hi')"}}
"""
EDGES = """
version: v1
name: contract edges
pipeline:
  fan:
    matrix: {inputs: {n: [1, 2]}}
    tasks:
      each: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT,
             parameters: {project_dir: py, command: "python task.py --name m${{ matrix.n }}"}}
  broken:
    depends_on: [fan]
    tasks:
      fails: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT,
              parameters: {project_dir: py, command: "python task.py --exit 3"}}
      skipped: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, depends_on: [fails],
                parameters: {project_dir: py, command: "python task.py"}}
"""
ENVIRONMENTS = "environments:\n  dev:\n    default: true\n    values:\n      SCHEMA: dev\n      FLAG: {type: bool, value: true}\n"
CONNECTIONS = "connections:\n  warehouse:\n    integration: POSTGRES\n    fields: {password: not-a-real-secret}\n"


@dataclass
class Call:
    """One request of the table: the OpenAPI path it exercises and the status we expect."""

    label: str
    method: str
    template: str  # OpenAPI path, e.g. /public/pipeline_runs/{pipeline_run_id}/status
    path: str  # concrete path below PREFIX, may hold {run}, {task_run}, {asset}, {environment}
    status: int
    kwargs: dict[str, Any] = field(default_factory=dict)
    token: bool = True


def _calls() -> list[Call]:
    runs, run = "/public/pipeline_runs", "/public/pipeline_runs/{pipeline_run_id}"
    task_run = f"{run}/task_runs/{{task_run_id}}"
    concrete_task_run = "/pipeline_runs/{run}/task_runs/{task_run}"
    return [
        Call("health", "GET", "/public/health", "/health", 200),
        Call("pipelines", "GET", "/public/pipelines", "/pipelines", 200),
        Call("pipeline", "GET", "/public/pipeline", "/pipeline", 200, {"params": {"alias": "contract"}}),
        Call("pipeline-missing", "GET", "/public/pipeline", "/pipeline", 404, {"params": {"alias": "nope"}}),
        Call("pipeline-data", "GET", "/public/pipelines/data", "/pipelines/data", 200, {"params": {"alias": "contract"}}),
        Call("schema-valid", "POST", "/public/pipelines/schema", "/pipelines/schema", 200,
             {"json": {"version": "v1", "name": "x", "pipeline": {"g": {"tasks": {"t": {
                 "integration": "PYTHON", "integration_job": "PYTHON_EXECUTE_SCRIPT",
                 "parameters": {"command": "python x.py"}}}}}}}, token=False),
        Call("schema-invalid", "POST", "/public/pipelines/schema", "/pipelines/schema", 422, {"json": {"version": "v1"}},
             token=False),
        Call("schema-too-large", "POST", "/public/pipelines/schema", "/pipelines/schema", 413,
             {"content": b" " * (2 * 1024 * 1024), "headers": {"Content-Type": "application/json"}}, token=False),
        Call("start", "POST", "/public/pipelines/{pipeline_id_or_alias}/start", "/pipelines/contract/start", 200,
             {"json": {"runInputs": {"who": "again"}}}),
        Call("start-missing-input", "POST", "/public/pipelines/{pipeline_id_or_alias}/start",
             "/pipelines/contract/start", 400, {"json": {}}),
        Call("start-nul", "POST", "/public/pipelines/{pipeline_id_or_alias}/start", "/pipelines/contract/start", 422,
             {"json": {"runInputs": {"who": "a\x00"}}}),
        Call("runs", "GET", runs, "/pipeline_runs", 200),
        Call("runs-unauthorised", "GET", runs, "/pipeline_runs", 401, token=False),
        Call("runs-bad-status", "GET", runs, "/pipeline_runs", 422, {"params": {"status": "NOPE"}}),
        Call("runs-bad-page", "GET", runs, "/pipeline_runs", 422, {"params": {"page": "9223372036854775807"}}),
        Call("run-status", "GET", f"{run}/status", "/pipeline_runs/{run}/status", 200),
        Call("run-status-unknown", "GET", f"{run}/status", f"/pipeline_runs/{UNKNOWN}/status", 404),
        Call("run-status-malformed", "GET", f"{run}/status", "/pipeline_runs/x/status", 422),
        Call("run-cancel-finished", "POST", f"{run}/cancel", "/pipeline_runs/{run}/cancel", 400),
        Call("run-task-runs", "GET", f"{run}/task_runs", "/pipeline_runs/{run}/task_runs", 200),
        Call("run-task-runs-page-size", "GET", f"{run}/task_runs", "/pipeline_runs/{run}/task_runs", 422,
             {"params": {"page_size": "51"}}),
        Call("logs", "GET", f"{task_run}/logs", f"{concrete_task_run}/logs", 200),
        Call("logs-download", "GET", f"{task_run}/logs/download", f"{concrete_task_run}/logs/download", 200,
             {"params": {"filename": "1/command.log"}}),
        Call("logs-download-missing", "GET", f"{task_run}/logs/download", f"{concrete_task_run}/logs/download", 404,
             {"params": {"filename": "../../metadata.db"}}),
        Call("artifacts", "GET", f"{task_run}/artifacts", "/pipeline_runs/{run}/task_runs/{inline}/artifacts", 200),
        Call("artifacts-download", "GET", f"{task_run}/artifacts/download",
             "/pipeline_runs/{run}/task_runs/{inline}/artifacts/download", 200,
             {"params": {"filename": "inline_attempt_1.py"}}),
        Call("task-runs", "GET", "/public/task_runs", "/task_runs", 200),
        Call("task-runs-bad-integration", "GET", "/public/task_runs", "/task_runs", 422, {"params": {"integration": "X"}}),
        Call("operations", "GET", "/public/operations", "/operations", 200),
        Call("operations-bad-time", "GET", "/public/operations", "/operations", 422, {"params": {"time_from": "x"}}),
        Call("assets", "GET", "/public/assets", "/assets", 200),
        Call("assets-bad-type", "GET", "/public/assets", "/assets", 422, {"params": {"asset_type": "X"}}),
        Call("asset", "GET", "/public/assets/{asset_id}", "/assets/{asset}", 200),
        Call("asset-missing", "GET", "/public/assets/{asset_id}", "/assets/raw.nothing", 404),
        Call("environments", "GET", "/public/environments", "/environments", 200),
        Call("environment", "GET", "/public/environments/{environment_id}", "/environments/{environment}", 200),
        Call("environment-unknown", "GET", "/public/environments/{environment_id}", f"/environments/{UNKNOWN}", 404),
        Call("integrations", "GET", "/public/integrations/", "/integrations/", 200),
        Call("integration", "GET", "/public/integrations/{integration}", "/integrations/POSTGRES", 200),
        Call("integration-unknown", "GET", "/public/integrations/{integration}", "/integrations/NOPE", 422),
        Call("integration-jobs", "GET", "/public/integrations/jobs", "/integrations/jobs", 200),
        Call("connections", "GET", "/public/integrations/connections", "/integrations/connections", 200),
        Call("sensor-checks", "GET", "/public/sensor_checks/", "/sensor_checks/", 200),
        Call("state", "GET", "/public/state/{integration}", "/state/DBT_CORE", 200),
    ]


CALLS = _calls()


@pytest.fixture
def api(task_repo: Path) -> Iterator[Api]:
    """The app over a repository that also holds an environments file and a connections file."""
    (task_repo / "environments.yml").write_text(ENVIRONMENTS)
    (task_repo / "connections.yml").write_text(CONNECTIONS)
    (task_repo / "orchestra" / "contract.yml").write_text(PIPELINE)
    (task_repo / "orchestra" / "contract_edges.yml").write_text(EDGES)
    settings = resolve_settings(task_repo / "orchestra", repo_root=task_repo, max_parallel=2)
    app = create_app(ApiSettings(runner=settings, token=TOKEN), Workspace.load(task_repo))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, app)


@pytest.fixture
def scenario(api: Api) -> dict[str, str]:
    """Ids of a finished run holding logs, an artifact, ingestion and dbt operations."""
    run_id = api.post("/pipelines/contract/start", json={"runInputs": {"who": "orders"}}).json()["pipelineRunId"]
    assert api.wait(run_id)["runStatus"] == "SUCCEEDED"
    edges = api.post("/pipelines/contract_edges/start").json()["pipelineRunId"]  # matrix, FAILED, SKIPPED
    assert api.wait(edges)["runStatus"] == "FAILED"
    statuses = {t["status"] for t in api.get("/task_runs").json()["results"]}
    assert {"SUCCEEDED", "FAILED", "SKIPPED"} <= statuses, statuses
    task_runs = {t["taskId"]: t["id"] for t in api.get(f"/pipeline_runs/{run_id}/task_runs").json()["results"]}
    results = {"results": [{"unique_id": "model.shop.fct_orders", "status": "success", "timing": [],
                            "execution_time": 1.5, "adapter_response": {"rows_affected": 10}}]}
    manifest = {"nodes": {"model.shop.fct_orders": {"name": "fct_orders", "relation_name": '"dev"."main"."fct_orders"'}}}
    api.app.state.service.store.add_operations([
        {**record, "pipeline_run_id": run_id, "task_run_id": task_runs["orders"], "integration": "DBT_CORE",
         "integration_job": "DBT_CORE_EXECUTE"} for record in operations_from_results(results, manifest)])
    environment = api.get("/environments").json()
    assert environment, "the environments file was not loaded"
    return {"run": run_id, "task_run": task_runs["orders"], "inline": task_runs["inline"],
            "asset": api.get("/assets").json()["results"][0]["assetId"], "environment": environment[0]["environmentId"]}


def _check(call: Call, response: Any) -> list[str]:
    status = response.status_code
    if status != call.status:
        return [f"expected {call.status}, got {status}: {response.text[:300]}"]
    declared = contract.operation(call.method, call.template)["responses"]
    if str(status) not in declared:
        if status not in STRING_ERRORS:
            return [f"{status} is neither declared nor one of our string errors {sorted(STRING_ERRORS)}"]
        body = response.json()
        ok = isinstance(body, dict) and set(body) == {"detail"} and isinstance(body["detail"], str)
        return [] if ok else [f"{status} body is not {{'detail': str}}: {response.text[:300]}"]
    if not response.headers.get("content-type", "").startswith("application/json"):
        return []  # downloads: raw file content (Orchestra declares an untyped 200)
    body = response.json() if response.content else None
    return contract.response_errors(call.method, call.template, status, body)


def test_every_response_conforms_to_the_openapi_document(api, scenario) -> None:
    workspace = api.app.state.service.workspace
    assert "warehouse" in workspace.connections, "connections.yml must be written before the app is built"
    drifts = []
    for call in CALLS:
        headers = api.headers if call.token else {}
        kwargs = {**call.kwargs, "headers": {**headers, **call.kwargs.get("headers", {})}}
        response = api.client.request(call.method, PREFIX + call.path.format(**scenario), **kwargs)
        drifts += [f"{call.label} ({call.method} {call.template}): {problem}" for problem in _check(call, response)]
    assert not drifts, "responses that drift from Orchestra's OpenAPI document:\n" + "\n".join(drifts)


def test_every_declared_get_path_is_served() -> None:
    exercised = {call.template for call in CALLS if call.method == "GET"}
    missing = set(contract.declared_get_paths()) - exercised - set(NOT_SERVED)
    assert not missing, f"GET paths of Orchestra's API with no request in the table: {sorted(missing)}"


def test_every_served_route_is_declared_or_a_listed_local_extension(api) -> None:
    local_extensions = {("POST", "/public/task_runs/{task_run_id}/approval"),
                        ("GET", "/public/ticks"),  # why a pipeline did or didn't run (scheduling)
                        ("POST", "/webhook")}  # sensor events: Orchestra's webhook.getorchestra.io, another host
    served = {(method.upper(), "/public" + path[len(PREFIX):] if path.startswith(PREFIX) else path)
              for path, operations in api.app.openapi()["paths"].items() for method in operations}
    assert len(served) > 25
    declared = {(method.upper(), path) for path, operations in contract.document()["paths"].items()
                for method in operations}
    undeclared = served - declared - local_extensions
    assert not undeclared, f"served routes Orchestra does not declare: {sorted(undeclared)}"


def test_the_contract_checker_catches_a_drift() -> None:
    """A record missing a required field and with a wrong enum must be reported."""
    body = {"page": 1, "pageSize": 50, "total": 1, "results": [{"id": UNKNOWN, "runStatus": "DONE"}]}
    problems = contract.response_errors("GET", "/public/pipeline_runs", 200, body)
    assert any("'pipelineId' is a required property" in p for p in problems), problems
    assert any("'DONE' is not one of" in p for p in problems), json.dumps(problems)


def test_a_run_names_its_environment_by_the_id_environments_lists(api, scenario) -> None:
    run = api.get(f"/pipeline_runs/{scenario['run']}/status").json()
    assert (run["envName"], run["envId"]) == ("dev", scenario["environment"])
    by_id = api.get("/pipeline_runs", params={"environments": scenario["environment"]}).json()
    by_name = api.get("/pipeline_runs", params={"environments": "dev"}).json()
    ids = [r["id"] for r in by_id["results"]]
    assert ids == [r["id"] for r in by_name["results"]] and scenario["run"] in ids
    assert api.get("/pipeline_runs", params={"environments": "prod"}).json()["total"] == 0
