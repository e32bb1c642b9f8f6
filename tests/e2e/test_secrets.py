"""Secrets appear nowhere, and nothing else is masked: one real pipeline through the CLI and the API.

Canary secrets come from every source the runner masks: the env file, a connection's password, the
process environment (reaching dbt through ``--vars``), a literal secret-named ``--vars`` key in the
pipeline file, the default environment of ``environments.yml``, and the runner's own API token. The
pipeline runs a Python worker linked to the connection, an INLINE script and a dbt build on
DuckDB whose ``--vars`` and compiled SQL hold canaries. Then every file under the state directory
(names and bytes), every row of the SQLite metadata database, every CLI output and every API
response is searched. The connection's host, port, user and database, and the worker's
``rows_written`` (which contains the port's digits), must read as they are, and the worker's
outputs and operation must be recorded.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path
from textwrap import dedent
from typing import Any

import duckdb
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ENV_FILE_SECRET = "cnry-envfile-7Q2x9"
CONNECTION_SECRET = "cnry@conn-5Zt8w"
PROCESS_SECRET = "cnry-process-Vv31k"
RUNNER_TOKEN = "cnry-runner-token-Hh40p"
LITERAL_SECRET = "cnry-literal-Pp62r"  # written in the pipeline file itself (bad practice, still masked)
ENVIRONMENT_SECRET = "cnry-envyml-Kk93d"
CANARIES = (ENV_FILE_SECRET, CONNECTION_SECRET, PROCESS_SECRET, RUNNER_TOKEN, LITERAL_SECRET, ENVIRONMENT_SECRET)

HOST, PORT, USER, DATABASE = "db.internal", "5432", "loader", "analytics"
ROWS_WRITTEN = 15432  # holds the port's digits: a port masked as a secret would make it 1***

WORKER = '''
import json, os, sys
from orchestra_sdk.orchestra import OrchestraSDK
prefix = "POSTGRES__WAREHOUSE_12345__"
password, api_key = os.environ[prefix + "PASSWORD"], os.environ["SOURCE_API_KEY"]
assert os.environ["DEPLOY_TOKEN"] == "cnry-envyml-Kk93d" and os.environ["DEPLOY_TARGET"] == "analytics_dev"
print("deploying to", os.environ["DEPLOY_TARGET"], "with", os.environ["DEPLOY_TOKEN"])
assert "ORCHESTRA_LOCAL_API_TOKEN" not in os.environ, "the runner's API token reached a task"
print("leak on stdout", password, api_key)
print("leak on stderr", password, api_key, file=sys.stderr)
print(f"connecting to {os.environ[prefix + 'USER']}@{os.environ[prefix + 'HOST']}:{os.environ[prefix + 'PORT']}"
      f"/{os.environ[prefix + 'DATABASE']}")
sdk = OrchestraSDK(api_key=os.environ["ORCHESTRA_API_KEY"])
sdk.set_output("leaked_key", api_key)
sdk.send_running_status(f"loading with {password}")
print(json.dumps({"table": "orders", "rows_written": ROWS_WRITTEN, "seconds": 0.1, "host": os.environ[prefix + "HOST"],
                  "database": os.environ[prefix + "DATABASE"], "secret_echo": password}))
'''.replace("ROWS_WRITTEN", str(ROWS_WRITTEN))

PIPELINE = r"""
version: v1
name: canaries
pipeline:
  ingest:
    tasks:
      load_orders:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        connection: warehouse_12345
        parameters: {project_dir: py, command: python worker.py, set_outputs: true}
      check_inline:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        parameters:
          source: INLINE
          code: |
            import os, sys
            assert "${{ ENV.SOURCE_API_KEY }}" == os.environ["SOURCE_API_KEY"]
            assert "ORCHESTRA_LOCAL_API_TOKEN" not in os.environ, "the runner's API token reached a task"
            print("inline sees", "${{ ENV.SOURCE_API_KEY }}")
      misconfigured:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        parameters: {project_dir: "py/${{ ENV.SOURCE_API_KEY }}", command: python worker.py}
      fail_loudly:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        parameters:
          source: INLINE
          code: "import sys; sys.exit('failing with ${{ ENV.SOURCE_API_KEY }}')"
  transform:
    depends_on: [ingest]
    condition: "${{ task_groups['ingest'].any().status == 'COMPLETED' }}"
    tasks:
      build_models:
        integration: DBT_CORE
        integration_job: DBT_CORE_EXECUTE
        parameters:
          project_dir: dbt
          commands: >-
            dbt build --vars '{"api_key": "${{ ENV.SOURCE_API_KEY }}",
            "client_secret": "${{ ENV.DBT_CLIENT_SECRET }}", "signing_key": "cnry-literal-Pp62r"}'
"""

MODEL = """{{ config(materialized='table') }}
select 1 as order_id,
       length('{{ var("api_key") }}') as api_key_length,
       length('{{ var("client_secret") }}') as client_secret_length,
       length('{{ var("signing_key") }}') as signing_key_length,
       '{{ env_var("ORCHESTRA_LOCAL_API_TOKEN", "hidden") }}' as runner_token
"""


@pytest.fixture
def canary_repo(repo: Path, tmp_path: Path) -> dict[str, Path]:
    """The repository, env file and connections file of the canary pipeline."""
    (repo / "py").mkdir()
    (repo / "py" / "worker.py").write_text(WORKER)
    project = repo / "dbt"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text("name: canaries\nversion: '1.0'\nprofile: canaries\n")
    warehouse = tmp_path / f"{DATABASE}.duckdb"  # DuckDB names the database after the file: "analytics"
    (project / "profiles.yml").write_text(  # and dbt logs name the schema: the same connection value
        f"canaries:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: {warehouse}\n"
        f"      schema: {DATABASE}\n")
    (project / "models" / "stg_orders.sql").write_text(MODEL)
    (repo / "orchestra" / "canaries.yml").write_text(PIPELINE)
    (repo / "environments.yml").write_text(dedent(f"""
        environments:
          dev:
            default: true
            values:
              DEPLOY_TOKEN: {ENVIRONMENT_SECRET}
              DEPLOY_TARGET: analytics_dev
        """))
    env_file = tmp_path / "test.env"
    env_file.write_text(f"SOURCE_API_KEY={ENV_FILE_SECRET}\nWAREHOUSE_SCHEMA=main\n")
    connections = tmp_path / "connections.yml"
    connections.write_text(dedent(f"""
        connections:
          warehouse_12345:
            integration: POSTGRES
            fields: {{host: {HOST}, port: {PORT}, user: {USER}, database: {DATABASE}, password: "{CONNECTION_SECRET}"}}
        """))
    return {"repo": repo, "env_file": env_file, "connections": connections, "warehouse": warehouse}


def _state_dir() -> Path:
    return Path(os.environ["ORCHESTRA_LOCAL_HOME"])


def assert_no_canaries(texts: dict[str, str]) -> None:
    """No canary in the state directory (file names and bytes), the metadata rows, or ``texts``."""
    state = _state_dir()
    files = [p for p in state.rglob("*") if p.is_file()]
    assert any(p.name == "run_results.json" for p in files) and any(p.suffix == ".log" for p in files)
    dump = "\n".join(sqlite3.connect(state / "metadata.db").iterdump())
    assert "build_models" in dump and "load_orders" in dump
    for canary in CANARIES:
        for path in state.rglob("*"):
            assert canary not in str(path.relative_to(state)), path
            if path.is_file():
                assert canary.encode() not in path.read_bytes(), path
        assert canary not in dump, f"{canary} in the metadata database"
        for where, text in texts.items():
            assert canary not in text, f"{canary} in {where}"


def assert_only_secrets_masked(state: Path, outputs: dict[str, Any], operations: list[dict[str, Any]],
                               warehouse: Path) -> None:
    """Host, port, user, database and rows_written read as they are; outputs and operations exist."""
    logs = {p.relative_to(state).as_posix(): p.read_text() for p in state.rglob("*.log")}
    worker_log = next(text for name, text in logs.items() if name.endswith("/command.log"))
    assert f"connecting to {USER}@{HOST}:{PORT}/{DATABASE}" in worker_log
    assert "leak on stdout *** ***" in worker_log and "leak on stderr *** ***" in worker_log
    assert "deploying to analytics_dev with ***" in worker_log
    assert f'"rows_written": {ROWS_WRITTEN}' in worker_log
    kept = [p for p in state.rglob("run_results.json") if "artifacts" in p.parts]  # and dbt's own target copy
    assert kept and all('"api_key": "***"' in p.read_text() for p in state.rglob("run_results.json"))
    dbt_logs = [text for name, text in logs.items() if "/dbt build --vars" in name]
    assert dbt_logs and f"{DATABASE}.stg_orders" in dbt_logs[0], logs.keys()
    assert outputs == {"table": "orders", "rows_written": ROWS_WRITTEN, "seconds": 0.1, "host": HOST,
                       "database": DATABASE, "secret_echo": "***", "leaked_key": "***"}
    ingestion = [op for op in operations if op["operation_type"] == "INGESTION"]
    assert [(op["operation_name"], op["rows_affected"]) for op in ingestion] == [("orders", ROWS_WRITTEN)]
    model = [op for op in operations if op["external_id"] == "model.canaries.stg_orders"]
    assert model and model[0]["operation_status"] == "SUCCEEDED" and DATABASE in model[0]["asset_external_id"]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        row = con.execute(f"select api_key_length, client_secret_length, signing_key_length, runner_token from {DATABASE}.{DATABASE}.stg_orders"
                          ).fetchone()
    assert row == (len(ENV_FILE_SECRET), len(PROCESS_SECRET), len(LITERAL_SECRET), "hidden")  # dbt got the vars, not the token


def test_cli_run_leaks_no_secret_and_masks_nothing_else(
    cli: Callable[..., subprocess.CompletedProcess[str]], canary_repo: dict[str, Path]
) -> None:
    repo = canary_repo["repo"]
    env = {"DBT_CLIENT_SECRET": PROCESS_SECRET, "ORCHESTRA_LOCAL_API_TOKEN": RUNNER_TOKEN}
    result = cli("run", str(repo / "orchestra" / "canaries.yml"), "--env-file", str(canary_repo["env_file"]),
                 "--connections-file", str(canary_repo["connections"]), "--no-progress", env=env)
    assert result.returncode == 1, result.stdout + result.stderr  # fail_loudly fails on purpose
    assert "failing with ***" in result.stdout and "project_dir 'py/***' does not exist" in result.stdout
    run_id = result.stdout.rsplit("pipeline run ", 1)[1].split()[0]
    listing, shown = cli("runs", cwd=repo, env=env), cli("runs", run_id, cwd=repo, env=env)

    from orchestra_local.store import RunStore

    store = RunStore(f"sqlite:///{_state_dir() / 'metadata.db'}")
    by_task = {r["task_id"]: r for r in store.list_task_runs(run_id)}
    assert {t: r["status"] for t, r in by_task.items()} == {
        "load_orders": "SUCCEEDED", "check_inline": "SUCCEEDED", "misconfigured": "FAILED", "fail_loudly": "FAILED",
        "build_models": "SUCCEEDED"}
    load = by_task["load_orders"]["id"]
    assert_only_secrets_masked(_state_dir(), store.get_outputs(load), store.list_operations(pipeline_run_id=run_id),
                               canary_repo["warehouse"])
    files = store.list_files(by_task["build_models"]["id"], "log") + store.list_files(load, "artifact")
    store.close()
    assert any(f["filename"].startswith("1/dbt build --vars") for f in files)
    assert_no_canaries({"run stdout": result.stdout, "run stderr": result.stderr, "runs": listing.stdout,
                        "runs RUN_ID": shown.stdout, "file records": json.dumps(files, default=str)})


def test_api_run_leaks_no_secret_and_masks_nothing_else(
    canary_repo: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from orchestra_local.api.app import PREFIX, ApiSettings, create_app
    from orchestra_local.settings import resolve_settings
    from orchestra_local.workspace import Workspace

    repo = canary_repo["repo"]
    monkeypatch.setenv("DBT_CLIENT_SECRET", PROCESS_SECRET)
    monkeypatch.setenv("ORCHESTRA_LOCAL_API_TOKEN", RUNNER_TOKEN)
    settings = resolve_settings(repo / "orchestra", repo_root=repo)
    workspace = Workspace.load(repo, env_file=canary_repo["env_file"], connections_file=canary_repo["connections"])
    app = create_app(ApiSettings(runner=settings, token=RUNNER_TOKEN), workspace)
    headers = {"Authorization": f"Bearer {RUNNER_TOKEN}"}
    texts: dict[str, str] = {}
    with TestClient(app) as client:
        started = client.post(f"{PREFIX}/pipelines/canaries/start", headers=headers, json={})
        assert started.status_code == 200, started.text
        run_id = started.json()["pipelineRunId"]
        app.state.service.wait(run_id, timeout=300)

        def get(path: str, **params: str) -> Any:
            response = client.get(f"{PREFIX}{path}", params=params, headers=headers)
            texts[f"GET {path} {params}"] = response.text
            assert response.status_code == 200, (path, response.text)
            return response.json() if "json" in response.headers.get("content-type", "") else response.text

        assert get(f"/pipeline_runs/{run_id}/status")["runStatus"] == "FAILED"
        task_runs = get(f"/pipeline_runs/{run_id}/task_runs", page_size="50")["results"]
        for path in ("/pipelines", "/pipeline_runs", "/task_runs", "/operations"):
            get(path)
        get("/pipeline", alias="canaries")
        for task_run in task_runs:
            base = f"/pipeline_runs/{run_id}/task_runs/{task_run['id']}"
            for kind in ("logs", "artifacts"):
                for name in get(f"{base}/{kind}")["filenames"]:
                    get(f"{base}/{kind}/download", filename=name)
        _walk_other_get_routes(client, headers, texts, run_id, task_runs)
        by_task = {r["taskId"]: r for r in task_runs}
        assert by_task["fail_loudly"]["status"] == "FAILED" and "***" in by_task["fail_loudly"]["message"]
        assert by_task["misconfigured"]["status"] == "FAILED" and "py/***" in by_task["misconfigured"]["message"]
        assert {t: r["status"] for t, r in by_task.items() if t not in ("fail_loudly", "misconfigured")} == {
            "load_orders": "SUCCEEDED", "check_inline": "SUCCEEDED", "build_models": "SUCCEEDED"}
        store = app.state.service.store
        load = by_task["load_orders"]["id"]
        assert_only_secrets_masked(_state_dir(), store.get_outputs(load), store.list_operations(pipeline_run_id=run_id),
                                   canary_repo["warehouse"])
    assert_no_canaries(texts)


def _walk_other_get_routes(client: Any, headers: dict[str, str], texts: dict[str, str], run_id: str,
                           task_runs: list[dict[str, Any]]) -> None:
    """GET every route of the OpenAPI document (whatever it answers): those without path parameters first, then
    those whose parameters are known ids or ids found in the first answers (``environment_id`` from an
    ``environmentId``, ...)."""
    from orchestra_local.api.app import PREFIX

    known: dict[str, list[str]] = {"pipeline_run_id": [run_id], "task_run_id": [r["id"] for r in task_runs],
                                   "pipeline_id_or_alias": ["canaries"], "integration": ["POSTGRES"]}
    document = client.get(f"{PREFIX}/openapi.json", headers=headers).json()
    routes = [path for path, operations in document["paths"].items() if "get" in operations and "download" not in path]
    assert f"{PREFIX}/task_runs" in routes and f"{PREFIX}/pipeline_runs/{{pipeline_run_id}}/status" in routes
    for path in sorted(routes, key=lambda p: "{" in p):
        names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
        if any(name not in known for name in names):
            continue
        values = [dict(zip(names, combo, strict=True)) for combo in _combinations([known[n] for n in names])]
        for params in values:
            response = client.get(path.format(**params), headers=headers)
            texts[f"GET {path} {params}"] = response.text
            if not names and "json" in response.headers.get("content-type", ""):
                _collect_ids(response.json(), known)


def _combinations(choices: list[list[str]]) -> list[tuple[str, ...]]:
    combos: list[tuple[str, ...]] = [()]
    for options in choices:
        combos = [(*combo, option) for combo in combos for option in options[:3]]
    return combos


def _collect_ids(value: Any, known: dict[str, list[str]]) -> None:
    """Add ids such as ``environmentId``/``assetId`` found anywhere in an answer, as ``environment_id``..."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith("Id") and isinstance(item, str) and item:
                name = "".join(f"_{c.lower()}" if c.isupper() else c for c in key)
                if item not in known.setdefault(name, []):
                    known[name].append(item)
            _collect_ids(item, known)
    elif isinstance(value, list):
        for item in value:
            _collect_ids(item, known)
