"""GET /integrations/*, /environments: records built from the runner's own integrations and files."""

from __future__ import annotations

import pytest

from orchestra_local.api.integration_records import JOB_TYPES, job_records
from orchestra_local.integrations import LOCAL_INTEGRATIONS


def test_every_local_job_has_an_integration_job_type() -> None:
    missing = sorted(job for _integration, job in LOCAL_INTEGRATIONS if job not in JOB_TYPES)
    assert not missing, f"add these jobs to JOB_TYPES in api/integration_records.py: {missing}"


@pytest.mark.parametrize("record", job_records(), ids=lambda record: record["id"])
def test_job_schema_lists_every_parameter_of_the_job(record: dict) -> None:
    module = LOCAL_INTEGRATIONS[(record["integration"], record["id"])]
    fields = {field.alias or name for name, field in module.Parameters.model_fields.items()}
    assert {item["name"] for item in record["jobSchema"]} == fields
    required = {item["name"] for item in record["jobSchema"] if not item["optional"]}
    assert required == {field.alias or name for name, field in module.Parameters.model_fields.items()
                        if field.is_required()}


def test_integrations_say_which_run_locally(api) -> None:
    listed = {record["id"]: record for record in api.get("/integrations/").json()}
    assert listed["DBT_CORE"]["tags"] == ["local"] and listed["DBT_CORE"]["jobTypes"] == ["Transformation"]
    assert listed["FIVETRAN"]["tags"] == ["remote-only"] and listed["FIVETRAN"]["jobTypes"] == []
    assert api.get("/integrations/FIVETRAN").json() == listed["FIVETRAN"]


def test_connections_and_environments_never_show_a_secret(task_repo) -> None:
    from fastapi.testclient import TestClient

    from orchestra_local.api.app import PREFIX, ApiSettings, create_app
    from orchestra_local.settings import resolve_settings
    from orchestra_local.workspace import Workspace

    (task_repo / "connections.yml").write_text(
        "connections:\n  wh:\n    integration: POSTGRES\n    fields: {password: hunter2-very-secret}\n")
    (task_repo / "environments.yml").write_text(
        "environments:\n  dev:\n    values:\n      DB_PASSWORD: hunter2-very-secret\n      SCHEMA: dev\n")
    settings = resolve_settings(task_repo / "orchestra", repo_root=task_repo)
    app = create_app(ApiSettings(runner=settings, token="t" * 24), Workspace.load(task_repo))
    with TestClient(app) as client:
        headers = {"Authorization": "Bearer " + "t" * 24}
        connections = client.get(PREFIX + "/integrations/connections", headers=headers)
        environments = client.get(PREFIX + "/environments", headers=headers).json()
        one = client.get(PREFIX + f"/environments/{environments[0]['environmentId']}", headers=headers)
        filtered = client.get(PREFIX + "/integrations/connections", params={"integration": "SNOWFLAKE"}, headers=headers)
    assert [c["connectionName"] for c in connections.json()] == ["wh"] and filtered.json() == []
    assert one.json()["values"] == {"DB_PASSWORD": {"type": "string", "value": "***"},
                                    "SCHEMA": {"type": "string", "value": "dev"}}
    assert "hunter2" not in connections.text + one.text
