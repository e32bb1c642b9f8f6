"""Pipeline endpoints with the exact requests Orchestra's clients send (run-pipeline Action, orchestra-cli)."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.orchestra_local.api import openapi_contract as contract

SIMPLE = """\
version: v1
name: simple
inputs:
  who: {type: string, default: world, options: [world, api]}
pipeline:
  g:
    name: The group
    tasks:
      first: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, name: Say hello,
              parameters: {project_dir: py, command: "python task.py --name ${{ inputs.who }}"}}
      second: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, depends_on: [first],
               parameters: {project_dir: py, command: "python task.py --name second"}}
"""

# What orchestra-hq/run-pipeline (src/index.js) sends when only api_key and pipeline_id are set:
# `environment` is core.getInput's "" and `taskIds` null; `runInputs` (undefined) is left out by
# JSON.stringify; `branch`/`commit` come from github.context (HEAD_SHA: the test repo's commit).
ACTION_BODY: dict[str, Any] = {
    "branch": "main", "commit": "HEAD_SHA", "environment": "", "ciRunId": "1658821493",
    "retryFromFailed": False, "taskIds": None, "continueDownstreamRun": False,
}


@pytest.fixture
def simple(write_pipeline) -> Path:
    return write_pipeline("simple", SIMPLE)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=T", "-c", "user.email=t@example.com", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def git_repo(task_repo: Path) -> Path:
    """The task repo as a real git repository (branch main) whose origin is Acme/data on GitHub."""
    (task_repo / ".git").rmdir()
    git(task_repo, "init", "-q", "-b", "main")
    git(task_repo, "remote", "add", "origin", "git@github.com:Acme/data.git")
    return task_repo


@pytest.mark.parametrize("body", [
    pytest.param(ACTION_BODY, id="action-defaults"),
    pytest.param({**ACTION_BODY, "branch": "main", "commit": None, "runInputs": {"who": "api"}},
                 id="action-branch-input-and-run-inputs"),
    pytest.param({**ACTION_BODY, "taskIds": ["first"], "continueDownstreamRun": True}, id="action-task-ids"),
    pytest.param({"environment": None, "runInputs": None, "taskIds": [], "environmentOverrides": {},
                  "versionNumber": None, "branch": "", "commit": ""}, id="every-empty-spelling"),
])
def test_start_treats_empty_strings_and_nulls_as_absent(api, git_repo, simple, body: dict[str, Any]) -> None:
    git(git_repo, "add", ".")
    git(git_repo, "commit", "-q", "-m", "pipelines")
    sha = git(git_repo, "rev-parse", "HEAD")
    body = {key: sha if value == "HEAD_SHA" else value for key, value in body.items()}
    started = api.post("/pipelines/simple/start", json=body)
    assert started.status_code == 200, started.text
    record = api.wait(started.json()["pipelineRunId"])
    assert record["runStatus"] == "SUCCEEDED"
    if body.get("branch"):
        assert record["branch"] == "main" and record["commit"] == sha


def test_start_rejects_what_cannot_be_honoured(api, simple) -> None:
    version = api.post("/pipelines/simple/start", json={"versionNumber": 2})
    assert version.status_code == 400 and "one version, 1" in version.json()["detail"]
    assert api.post("/pipelines/simple/start", json={"environment": "nope"}).status_code == 400
    assert api.post("/pipelines/simple/start", json={"bogus": 1}).status_code == 422
    airflow = api.post("/pipelines/simple/start", json={"data": [{"integration": "AIRFLOW"}]})
    assert airflow.status_code == 400


def test_run_record_data_is_the_definition_it_ran(api, simple) -> None:
    run_id = api.post("/pipelines/simple/start", json={"runInputs": {"who": "api"}}).json()["pipelineRunId"]
    data = api.wait(run_id)["data"]
    assert data["name"] == "simple" and data["version"] == "v1"
    assert data["pipeline"]["g"]["tasks"]["second"]["dependsOn"] == ["first"]
    assert data["pipeline"]["g"]["tasks"]["first"]["integrationJob"] == "PYTHON_EXECUTE_SCRIPT"
    assert data["inputs"] == {"who": {"type": "string", "default": "world"}}  # no local `options`
    assert "runInputs" not in data and "alias" not in data
    simple.write_text(SIMPLE.replace("name: simple", "name: renamed"))
    assert api.get(f"/pipeline_runs/{run_id}/status").json()["data"]["name"] == "simple"  # as it ran


@pytest.mark.parametrize("path", ["/pipelines/data", "/pipeline/data"])
def test_pipeline_data_is_the_camel_case_definition(api, simple, path: str) -> None:
    data = api.get(path, params={"alias": "simple"}).json()
    assert data["pipeline"]["g"]["tasks"]["first"]["integrationJob"] == "PYTHON_EXECUTE_SCRIPT"
    assert data["inputs"]["who"] == {"type": "string", "default": "world"}
    assert "integration_job" not in str(data)


@pytest.mark.parametrize(("params", "status", "fragment"), [
    pytest.param({"alias": "simple"}, 200, None, id="alias"),
    pytest.param({"repository": "acme/data", "yaml_path": "orchestra/simple.yml"}, 200, None, id="origin-slug"),
    pytest.param({"repository": "repo", "yaml_path": "./orchestra/simple.yml"}, 200, None, id="directory-name"),
    pytest.param({"repository": "acme/data", "yaml_path": "orchestra/simple.yml", "version": 1}, 200, None,
                 id="version-1"),
    pytest.param({}, 400, "Provide one selector", id="none"),
    pytest.param({"alias": "simple", "pipeline_id": "x"}, 400, "only one selector", id="two"),
    pytest.param({"repository": "acme/data"}, 400, "together", id="repository-alone"),
    pytest.param({"repository": "other/data", "yaml_path": "orchestra/simple.yml"}, 404, "Acme/data (origin)",
                 id="other-repository"),
    pytest.param({"repository": "acme/data", "yaml_path": "simple.yml"}, 404, "no pipeline file at simple.yml",
                 id="not-repo-relative"),
    pytest.param({"alias": "simple", "version": 2}, 404, "one version", id="other-version"),
])
def test_get_pipeline_selectors(api, git_repo, simple, params: dict[str, Any], status: int,
                                fragment: str | None) -> None:
    response = api.get("/pipeline", params=params)
    assert response.status_code == status, response.text
    if fragment:
        assert fragment in response.json()["detail"]
    else:
        record = response.json()
        assert record["alias"] == "simple" and record["yamlPath"] == "orchestra/simple.yml"
        assert record["storageProvider"] == "ORCHESTRA" and record["repository"] == "Acme/data"
        assert record["latestVersionNumber"] == 1 and record["inputs"] == {"who": {"type": "string",
                                                                                  "default": "world"}}


def definition(name: str) -> dict[str, Any]:
    return {"version": "v1", "name": name, "pipeline": {"g": {"tasks": {"t": {
        "integration": "PYTHON", "integrationJob": "PYTHON_EXECUTE_SCRIPT",
        "parameters": {"command": "python -c 'print(1)'\n"}}}}}}


def test_create_writes_a_valid_file_under_orchestra(api, task_repo: Path) -> None:
    body = {"data": definition("made"), "published": False, "storage_provider": "ORCHESTRA", "alias": "made"}
    created = api.post("/pipelines", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["latestVersionNumber"] == 1 and created.json()["data"]["name"] == "made"
    path = task_repo / "orchestra" / "made.yml"
    text = path.read_text()
    assert "integration_job: PYTHON_EXECUTE_SCRIPT" in text and "command: |" in text
    assert path.stat().st_mode & 0o777 == 0o644
    run_id = api.post("/pipelines/made/start").json()["pipelineRunId"]
    assert api.wait(run_id)["runStatus"] == "SUCCEEDED"
    again = api.post("/pipelines", json=body)
    assert again.status_code == 409 and "already exists" in again.json()["detail"]
    assert sorted(p.name for p in (task_repo / "orchestra").iterdir()) == ["made.yml"]  # no temporary left


@pytest.mark.parametrize(("extra", "status"), [
    pytest.param({"alias": "../escape"}, 400, id="alias-with-dots"),
    pytest.param({"alias": "/etc/x"}, 400, id="absolute-alias"),
    pytest.param({"yamlPath": "orchestra/../py/x.yml"}, 400, id="yaml-path-leaving-orchestra"),
    pytest.param({"yamlPath": "/tmp/x.yml"}, 400, id="absolute-yaml-path"),
    pytest.param({"yamlPath": "orchestra/x.txt"}, 400, id="not-yaml"),
    pytest.param({"yamlPath": "orchestra/sub/x.yml", "alias": "y"}, 400, id="alias-not-the-stem"),
    pytest.param({}, 400, id="no-alias"),
    pytest.param({"alias": "gitty", "storageProvider": "GITHUB"}, 400, id="git-provider"),
    pytest.param({"alias": "bad", "data": {**definition("bad"), "schedule": [{"cron": "0 25 ? * * *"}]}}, 422,
                 id="invalid-definition"),
])
def test_create_refuses_without_writing(api, task_repo: Path, extra: dict[str, Any], status: int) -> None:
    before = sorted(p.relative_to(task_repo) for p in task_repo.rglob("*"))
    response = api.post("/pipelines", json={"data": definition("x"), "published": True, **extra})
    assert response.status_code == status, response.text
    assert sorted(p.relative_to(task_repo) for p in task_repo.rglob("*")) == before


def test_create_at_a_nested_yaml_path(api, task_repo: Path) -> None:
    response = api.post("/pipelines", json={"data": definition("n"), "published": True,
                                            "yamlPath": "orchestra/team/nested.yml"})
    assert response.status_code == 201 and response.json()["yamlPath"] == "orchestra/team/nested.yml"
    assert (task_repo / "orchestra" / "team" / "nested.yml").is_file()


def test_update_keeps_an_unchanged_file_and_rewrites_a_changed_one(api, simple: Path) -> None:
    commented = "# keep me\n" + SIMPLE
    simple.write_text(commented)
    pipeline_id = api.get("/pipeline", params={"alias": "simple"}).json()["id"]


    same = {"data": yaml.safe_load(commented), "published": False, "storage_provider": "ORCHESTRA",
            "pipeline_id": pipeline_id}
    response = api.client.put("/api/engine/public/pipelines", json=same, headers=api.headers)
    assert response.status_code == 200, response.text
    assert response.json()["id"] == pipeline_id and response.json()["currentVersionNumber"] == 1
    assert simple.read_text() == commented
    changed = {**same, "data": {**same["data"], "name": "renamed"}}
    assert api.client.put("/api/engine/public/pipelines", json=changed, headers=api.headers).status_code == 200
    assert "name: renamed" in simple.read_text() and "# keep me" not in simple.read_text()
    assert api.get("/pipelines").json()[0]["name"] == "renamed"
    by_query = api.client.put("/api/engine/public/pipelines", params={"alias": "simple"},
                              json={"data": definition("q"), "published": True}, headers=api.headers)
    assert by_query.status_code == 200 and api.get("/pipeline", params={"alias": "simple"}).json()["name"] == "q"
    invalid = {**same, "data": {**definition("q"), "version": "v2"}}
    assert api.client.put("/api/engine/public/pipelines", json=invalid, headers=api.headers).status_code == 422
    missing = {**same, "pipeline_id": None, "alias": "nope"}
    assert api.client.put("/api/engine/public/pipelines", json=missing, headers=api.headers).status_code == 404


def test_delete_removes_only_the_file(api, simple: Path) -> None:
    run_id = api.post("/pipelines/simple/start").json()["pipelineRunId"]
    api.wait(run_id)
    deleted = api.client.delete("/api/engine/public/pipelines", params={"alias": "simple"}, headers=api.headers)
    assert deleted.status_code == 204 and not simple.exists()
    assert api.get("/pipeline", params={"alias": "simple"}).status_code == 404
    assert api.get(f"/pipeline_runs/{run_id}/status").status_code == 200  # history stays
    again = api.client.delete("/api/engine/public/pipelines", params={"alias": "simple"}, headers=api.headers)
    assert again.status_code == 404


def test_import_confirms_a_file_of_the_served_repository(api, git_repo, simple) -> None:
    body = {"storage_provider": "GITHUB", "repository": "acme/data", "default_branch": "main",
            "working_branch": "main", "yaml_path": "orchestra/simple.yml"}
    imported = api.post("/pipelines/import", json=body)
    assert imported.status_code == 201 and imported.json()["alias"] == "simple"
    assert api.post("/pipelines/import", json={**body, "alias": "other"}).status_code == 400
    assert api.post("/pipelines/import", json={**body, "yaml_path": "orchestra/none.yml"}).status_code == 404


def test_registry_cache_picks_up_changes(api, simple: Path) -> None:
    service = api.app.state.service
    pipeline = service.registry.find("simple")
    first = service.load(pipeline)
    assert service.load(pipeline) is first  # unchanged file: validated once
    stat = simple.stat()
    simple.write_text(SIMPLE.replace("name: simple", "name: SIMPLE"))  # same size
    os.utime(simple, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the same mtime: only the hash differs
    assert simple.stat().st_size == stat.st_size
    assert service.load(pipeline).model.name == "SIMPLE"
    assert api.get("/pipelines").json()[0]["name"] == "SIMPLE"
    simple.write_text("version: v1\nname: broken\npipeline: {}\nbogus: 1\n")
    listed = api.get("/pipelines").json()
    assert listed[0]["name"] == "simple" and listed[0]["numTasks"] is None  # invalid: named by alias
    assert api.post("/pipelines/simple/start").status_code == 422


def test_migrate_explains_that_local_pipelines_are_files_already(api, simple) -> None:
    body = {"path": "orchestra/simple.yml", "repository": "acme/data", "storage_provider": "GITHUB",
            "default_branch": "main"}
    response = api.client.patch("/api/engine/public/pipelines/storage-settings", params={"alias": "simple"},
                                json=body, headers=api.headers)
    assert response.status_code == 400 and "orchestra/simple.yml of this repository" in response.json()["detail"]


def test_concurrent_loads_of_a_changed_file_validate_it_once(api, simple: Path) -> None:
    service = api.app.state.service
    pipeline = service.registry.find("simple")
    simple.write_text(SIMPLE.replace("name: simple", "name: changed"))
    barrier = threading.Barrier(8)
    results: list[Any] = []

    def load() -> None:
        barrier.wait()
        results.append(service.load(pipeline))

    threads = [threading.Thread(target=load) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 and len({id(r) for r in results}) == 1  # one validation, shared by all
    assert results[0].model.name == "changed"


def test_write_and_selector_responses_conform_to_the_openapi_document(api, git_repo, simple) -> None:
    created = api.post("/pipelines", json={"data": definition("made"), "published": False, "alias": "made"})
    updated = api.client.put("/api/engine/public/pipelines", headers=api.headers,
                             json={"data": definition("remade"), "published": True, "alias": "made"})
    imported = api.post("/pipelines/import", json={"storageProvider": "GITHUB", "repository": "acme/data",
                                                   "defaultBranch": "main", "yamlPath": "orchestra/simple.yml"})
    by_path = api.get("/pipeline", params={"repository": "acme/data", "yaml_path": "orchestra/simple.yml"})
    data = api.get("/pipelines/data", params={"repository": "acme/data", "yaml_path": "orchestra/simple.yml"})
    run_id = api.post("/pipelines/simple/start").json()["pipelineRunId"]
    run = api.wait(run_id)
    deleted = api.client.delete("/api/engine/public/pipelines", params={"alias": "made"}, headers=api.headers)
    checks = [("POST", "/public/pipelines", created), ("PUT", "/public/pipelines", updated),
              ("POST", "/public/pipelines/import", imported), ("GET", "/public/pipeline", by_path),
              ("GET", "/public/pipelines/data", data), ("DELETE", "/public/pipelines", deleted)]
    drifts = [f"{method} {path}: {problem}" for method, path, response in checks
              for problem in contract.response_errors(method, path, response.status_code,
                                                      response.json() if response.content else None)]
    drifts += contract.response_errors("GET", "/public/pipeline_runs/{pipeline_run_id}/status", 200, run)
    assert not drifts, "\n".join(drifts)
