"""Warnings for behaviour that differs between a local run and hosted Orchestra (``spec/portability.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestra_local.spec.loader import validate_text
from orchestra_local.spec.portability import outputs_read

READS = {
    "tasks-subscript": ("${{ tasks['Count'].OUTPUTS['n'] }}", {"count"}),
    "bare-outputs": ("${{ tasks['count'].outputs }}", {"count"}),
    "pipeline-run-tasks": ("${{ ORCHESTRA.PIPELINE_RUN_TASKS['count'].OUTPUTS['n'] > 1 }}", {"count"}),
    "status-is-not-outputs": ("${{ tasks['count'].STATUS == 'SUCCEEDED' }}", set()),
    "two-in-one-text": ("a ${{ tasks['a'].OUTPUTS['x'] }} b ${{ tasks['b'].OUTPUTS }}", {"a", "b"}),
    "syntax-error-is-not-a-read": ("${{ tasks['a'].OUTPUTS[ }}", set()),
    "no-expression": ("tasks['a'].OUTPUTS", set()),
}


@pytest.mark.parametrize(("text", "tasks"), READS.values(), ids=READS.keys())
def test_outputs_read(text: str, tasks: set[str]) -> None:
    assert outputs_read(text) == tasks


def two_tasks(set_outputs: str, integration: str = "PYTHON", job: str = "PYTHON_EXECUTE_SCRIPT") -> str:
    return f"""version: v1
name: p
pipeline:
  g:
    tasks:
      count: {{integration: {integration}, integration_job: {job}, parameters: {{command: python c.py{set_outputs}}}}}
      use: {{integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, depends_on: [count],
             condition: "${{{{ tasks['count'].OUTPUTS['n'] > 0 }}}}",
             parameters: {{command: "python u.py ${{{{ tasks['count'].OUTPUTS['n'] }}}}"}}}}
"""


OUTPUT_CASES = {
    "set-outputs-missing": (two_tasks(""), 1),
    "set-outputs-false": (two_tasks(", set_outputs: false"), 1),
    "set-outputs-true": (two_tasks(", set_outputs: true"), 0),
}


@pytest.mark.parametrize(("text", "warnings"), OUTPUT_CASES.values(), ids=OUTPUT_CASES.keys())
def test_outputs_read_without_set_outputs_warn_once_per_task(text: str, warnings: int) -> None:
    found = [p for p in validate_text(text, "p.yml") if p.type == "outputs_without_set_outputs"]
    assert len(found) == warnings
    if found:
        assert found[0].yaml_path() == "pipeline.g.tasks.count.parameters" and found[0].line == 6
        assert "set_outputs: true" in found[0].msg and "and 1 more place(s)" in found[0].msg


def test_project_dir_is_checked_against_the_repository(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    text = """version: v1
name: p
pipeline:
  g:
    tasks:
      here: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, parameters: {command: python a.py, project_dir: scripts}}
      gone: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, parameters: {command: python a.py, project_dir: gone}}
      later: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, parameters: {command: python a.py, project_dir: "${{ ENV.DIR }}"}}
"""
    [problem] = validate_text(text, "p.yml", tmp_path)
    assert problem.type == "missing_project_dir" and problem.yaml_path() == "pipeline.g.tasks.gone.parameters.project_dir"
    assert validate_text(text, "p.yml") == ()  # no repository known: not checked
