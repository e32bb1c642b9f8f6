"""Start requests whose values cannot reach a process (NUL, '=' in a variable name) answer 422 up front."""

from __future__ import annotations

import pytest

from orchestra_local.api.process_text import environment_names, without_nul

ECHO = """
version: v1
name: echo
inputs:
  who: {type: string, default: x}
pipeline:
  g:
    tasks:
      t: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT,
          parameters: {project_dir: py, command: "python task.py --name ${{ inputs.who }}"}}
"""

REFUSED = {
    "override-value-nul": ({"environmentOverrides": {"A": "x\x00y"}}, "environmentOverrides"),
    "override-object-value-nul": ({"environmentOverrides": {"A": {"value": "x\x00"}}}, "environmentOverrides"),
    "override-name-nul": ({"environmentOverrides": {"A\x00B": "x"}}, "environmentOverrides"),
    "override-name-equals": ({"environmentOverrides": {"A=B": "x"}}, "environmentOverrides"),
    "run-input-nul": ({"runInputs": {"who": "a\x00b"}}, "runInputs"),
    "run-input-nested-nul": ({"runInputs": {"who": ["ok", {"k": "\x00"}]}}, "runInputs"),
    "task-id-nul": ({"taskIds": ["t\x00"]}, "taskIds"),
    "branch-nul": ({"branch": "main\x00"}, "branch"),
}


@pytest.mark.parametrize(("body", "field"), list(REFUSED.values()), ids=list(REFUSED))
def test_values_a_process_cannot_receive_answer_422(api, write_pipeline, body: dict, field: str) -> None:
    write_pipeline("echo", ECHO)
    response = api.post("/pipelines/echo/start", json=body)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert any(field in str(item["loc"]) or field in item["msg"] for item in detail), detail
    assert api.get("/pipeline_runs").json()["total"] == 0  # nothing was started


def test_ordinary_overrides_still_run(api, write_pipeline) -> None:
    write_pipeline("echo", ECHO)
    started = api.post("/pipelines/echo/start", json={"environmentOverrides": {"A": "1", "B": {"value": "two"}},
                                                      "runInputs": {"who": "ünïcode"}})
    assert started.status_code == 200, started.text
    assert api.wait(started.json()["pipelineRunId"])["runStatus"] == "SUCCEEDED"


@pytest.mark.parametrize("value", ["a", 1, None, True, ["a", {"b": "c"}], {"k": [1, "v"]}], ids=repr)
def test_without_nul_returns_clean_values_unchanged(value) -> None:
    assert without_nul(value) == value


def test_environment_names_name_the_offending_key() -> None:
    with pytest.raises(ValueError, match="'A=B' is not a valid environment variable name"):
        environment_names({"OK": "1", "A=B": "2"})
    with pytest.raises(ValueError, match=r"environmentOverrides\.X must not contain a NUL"):
        environment_names({"X": "\x00"})
