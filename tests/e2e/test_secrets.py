"""Secrets from the env file and the connections file appear nowhere: output, logs, metadata, files."""

from __future__ import annotations

import os
from pathlib import Path
from textwrap import dedent

import pytest

pytestmark = pytest.mark.e2e

ENV_SECRET = "Env-Secret-4821-value"
CONNECTION_SECRET = "Conn-Secret-9377-value"

LEAKY_SCRIPT = '''
import json, os, sys
from orchestra_sdk.orchestra import OrchestraSDK
env_secret = os.environ["SOURCE_PASSWORD"]
conn_secret = os.environ["POSTGRES__WAREHOUSE_12345__PASSWORD"]
print("stdout leak", env_secret, conn_secret)
print("stderr leak", env_secret, conn_secret, file=sys.stderr)
OrchestraSDK(api_key=os.environ["ORCHESTRA_API_KEY"]).set_output("leak", f"{env_secret}/{conn_secret}")
if sys.argv[1] == "fail":
    sys.exit(f"failing with {conn_secret}")
print(json.dumps({"table": env_secret, "rows_written": 1, "seconds": 0.1}))
'''


def test_secrets_never_leave_the_process(cli, repo: Path, tmp_path: Path) -> None:
    (repo / "py").mkdir()
    (repo / "py" / "leak.py").write_text(LEAKY_SCRIPT)
    env_file = tmp_path / "test.env"
    env_file.write_text(f"SOURCE_PASSWORD={ENV_SECRET}\nPLAIN_SETTING=hello\n")
    connections = tmp_path / "connections.yml"
    connections.write_text(dedent(f"""
        connections:
          warehouse_12345:
            integration: POSTGRES
            fields: {{host: 127.0.0.1, user: loader, password: {CONNECTION_SECRET}}}
        """))
    pipeline = repo / "orchestra" / "leaky.yml"
    pipeline.write_text(dedent("""
        version: v1
        name: leaky
        pipeline:
          g:
            tasks:
              leak:
                integration: PYTHON
                integration_job: PYTHON_EXECUTE_SCRIPT
                connection: warehouse_12345
                parameters: {project_dir: py, command: python leak.py ok, set_outputs: true}
              fail:
                integration: PYTHON
                integration_job: PYTHON_EXECUTE_SCRIPT
                connection: warehouse_12345
                depends_on: [leak]
                parameters: {project_dir: py, command: python leak.py fail}
        """))
    result = cli("run", str(pipeline), "--env-file", str(env_file), "--connections-file", str(connections),
                 "--no-progress")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "failing with ***" in result.stdout
    listing = cli("runs", cwd=repo)
    run_id = result.stdout.rsplit("pipeline run ", 1)[1].split()[0]
    shown = cli("runs", run_id, cwd=repo)
    state = Path(os.environ["ORCHESTRA_LOCAL_HOME"])
    files = [p for p in state.rglob("*") if p.is_file()]
    assert any(p.name == "command.log" for p in files) and any(p.name.startswith("metadata.db") for p in files)
    logs = "".join(p.read_text() for p in files if p.suffix == ".log")
    assert "stdout leak *** ***" in logs and "stderr leak *** ***" in logs
    for secret in (ENV_SECRET, CONNECTION_SECRET):
        for text in (result.stdout, result.stderr, listing.stdout, shown.stdout):
            assert secret not in text
        for path in files:
            assert secret.encode() not in path.read_bytes(), path


def test_secrets_never_reach_api_responses(repo: Path, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from orchestra_local.api.app import PREFIX, ApiSettings, create_app
    from orchestra_local.settings import resolve_settings
    from orchestra_local.workspace import Workspace

    (repo / "py").mkdir()
    (repo / "py" / "leak.py").write_text(LEAKY_SCRIPT)
    env_file = tmp_path / "test.env"
    env_file.write_text(f"SOURCE_PASSWORD={ENV_SECRET}\n")
    (repo / "connections.yml").write_text(dedent(f"""
        connections:
          warehouse_12345:
            integration: POSTGRES
            fields: {{password: {CONNECTION_SECRET}}}
        """))
    (repo / "orchestra" / "leaky.yml").write_text(dedent("""
        version: v1
        name: leaky
        inputs:
          fail: {type: string, default: fail}
        pipeline:
          g:
            tasks:
              leak:
                integration: PYTHON
                integration_job: PYTHON_EXECUTE_SCRIPT
                connection: warehouse_12345
                parameters: {project_dir: py, command: "python leak.py ${{ inputs.fail }}", set_outputs: true}
        """))
    settings = resolve_settings(repo / "orchestra", repo_root=repo)
    workspace = Workspace.load(repo, env_file=env_file)
    app = create_app(ApiSettings(runner=settings, token="api-token-1234"), workspace)
    headers = {"Authorization": "Bearer api-token-1234"}
    with TestClient(app) as client:
        run_id = client.post(f"{PREFIX}/pipelines/leaky/start", headers=headers).json()["pipelineRunId"]
        app.state.service.wait(run_id, timeout=60)
        responses = [client.get(f"{PREFIX}/pipeline_runs/{run_id}/status", headers=headers),
                     client.get(f"{PREFIX}/pipeline_runs/{run_id}/task_runs", headers=headers),
                     client.get(f"{PREFIX}/task_runs", headers=headers),
                     client.get(f"{PREFIX}/operations", headers=headers),
                     client.get(f"{PREFIX}/pipelines", headers=headers)]
        task_run = responses[1].json()["results"][0]
        assert task_run["status"] == "FAILED" and "***" in task_run["message"]
        logs = client.get(f"{PREFIX}/pipeline_runs/{run_id}/task_runs/{task_run['id']}/logs", headers=headers).json()
        responses += [client.get(f"{PREFIX}/pipeline_runs/{run_id}/task_runs/{task_run['id']}/logs/download",
                                 params={"filename": name}, headers=headers) for name in logs["filenames"]]
    assert all(r.status_code == 200 for r in responses)
    body = "".join(r.text for r in responses)
    assert "stdout leak *** ***" in body
    for secret in (ENV_SECRET, CONNECTION_SECRET):
        assert secret not in body
