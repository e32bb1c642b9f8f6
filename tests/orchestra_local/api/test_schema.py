"""POST /pipelines/schema: our model's findings and Orchestra's validator's, together."""

from __future__ import annotations

from typing import Any

PY = {"integration": "PYTHON", "integrationJob": "PYTHON_EXECUTE_SCRIPT", "parameters": {"command": "python x.py"}}


def body(**tasks: Any) -> dict[str, Any]:
    return {"version": "v1", "name": "x", "pipeline": {"g": {"tasks": tasks}}}


def test_orchestras_findings_are_kept_when_our_model_fails(api) -> None:
    """Our model refuses `treatFailureAsWarning: "maybe"`; only oml_lang knows FIVETRAN's parameters."""
    document = body(t={**PY, "treatFailureAsWarning": "maybe"},
                    sync={"integration": "FIVETRAN", "integrationJob": "FIVETRAN_SYNC_ALL", "parameters": {}})
    response = api.post("/pipelines/schema", json=document)
    assert response.status_code == 422
    detail = response.json()["detail"]
    by_loc = {tuple(d["loc"]): d for d in detail}
    assert ("pipeline", "g", "tasks", "t", "treat_failure_as_warning") in by_loc
    fivetran = [d for loc, d in by_loc.items() if loc[:4] == ("pipeline", "g", "tasks", "sync")]
    assert fivetran and fivetran[0]["type"].startswith("orchestra_"), detail
    assert all({"loc", "msg", "type", "input"} <= set(d) for d in detail)
    # The body's camelCase keys are read as the file dialect, not reported as unknown properties.
    assert not any("integrationJob" in d["msg"] for d in detail), detail


def test_what_orchestra_accepts_is_valid_with_warnings(api) -> None:
    document = body(a={**PY, "dependsOn": ["ghost"]})
    response = api.post("/pipelines/schema", json=document)
    assert response.status_code == 200, response.json()
    [warning] = response.json()["warnings"]
    assert warning["type"] == "unknown_task_dependency" and "local runner cannot run" in warning["msg"]


def test_a_body_over_the_limits_is_refused_before_any_validator(api) -> None:
    nested: Any = []
    for _ in range(200):
        nested = [nested]
    response = api.post("/pipelines/schema", json={**body(t=PY), "meta": {"x": nested}})
    assert response.status_code == 422
    assert [d["type"] for d in response.json()["detail"]] == ["too_deep"]
