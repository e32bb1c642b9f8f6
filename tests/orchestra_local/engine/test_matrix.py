"""Matrix in full: values from an upstream task's outputs, per-iteration siblings, bare OUTPUTS,
max_parallel, and shell-quoted values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

EMIT = '''
import json, sys
print(json.dumps({"tables": sys.argv[1].split(","), "table": "", "rows_written": 0}))
'''
ECHO = '''
import json, sys, time
time.sleep(float(sys.argv[3]) if len(sys.argv) > 3 else 0)
print(json.dumps({"seen": sys.argv[1], "extra": sys.argv[2] if len(sys.argv) > 2 else ""}))
'''


@pytest.fixture
def scripts(task_repo: Path) -> Path:
    (task_repo / "py" / "emit.py").write_text(EMIT)
    (task_repo / "py" / "echo.py").write_text(ECHO)
    return task_repo


PIPELINE = """
version: v1
name: matrix
inputs:
  tables: {type: string, default: "orders,lineitem,part"}
pipeline:
  discover:
    tasks:
      list_tables: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT,
                    parameters: {project_dir: py, command: "python emit.py ${{ inputs.tables }}"}}
  per_table:
    depends_on: [discover]
    matrix:
      inputs: {table: "${{ tasks['list_tables'].outputs['tables'] }}"}
      max_parallel: 2
    tasks:
      extract: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT,
                parameters: {project_dir: py, command: "python echo.py ${{ MATRIX.table }} x 0.3"}}
      check: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, depends_on: [extract],
              parameters: {project_dir: py, command: "python echo.py ${{ tasks['extract'].outputs['seen'] }}"}}
  summary:
    depends_on: [per_table]
    tasks:
      report: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT,
               parameters: {project_dir: py, command: "python echo.py '${{ tasks['extract'].outputs }}'"}}
"""


def test_matrix_from_upstream_outputs_with_per_iteration_siblings(run_pipeline, scripts: Path) -> None:
    finished = run_pipeline(PIPELINE, workers=2)
    assert finished.status == "SUCCEEDED"
    runs = finished.by_label()
    for table in ("orders", "lineitem", "part"):
        check = runs[f"per_table.check[{table}]"]
        # each iteration's `check` saw its own iteration's `extract` output
        assert finished.store.get_outputs(check["id"])["seen"] == table
        assert check["matrix_parent_id"] == runs["per_table.check[*]"]["id"]
    report = finished.store.get_outputs(runs["summary.report"]["id"])["seen"]
    # bare OUTPUTS of a matrix task: a dict keyed by iteration value
    assert json.loads(report) == {t: {"seen": t, "extra": "x"} for t in ("orders", "lineitem", "part")}
    extracts = sorted((r["started_at"], r["completed_at"]) for label, r in runs.items()
                      if label.startswith("per_table.extract[") and "*" not in label)
    overlapping = max(sum(1 for s, e in extracts if s <= start < e) for start, _ in extracts)
    assert overlapping <= 2  # max_parallel: 2 iterations at a time


def test_a_matrix_expression_that_fails_fails_the_entry(run_pipeline, scripts: Path) -> None:
    finished = run_pipeline(PIPELINE.replace("outputs['tables']", "outputs['table']"), workers=2)
    assert finished.status == "FAILED"
    runs = finished.by_label()
    assert runs["per_table.extract[*]"]["status"] == "FAILED"
    assert "must yield a list" in runs["per_table.extract[*]"]["message"]
    assert runs["summary.report"]["status"] == "SKIPPED"


def test_shell_syntax_in_an_input_cannot_run(run_pipeline, scripts: Path) -> None:
    victim = scripts / "victim.txt"
    victim.write_text("keep me")
    finished = run_pipeline("""
        version: v1
        name: injection
        inputs:
          label: {type: string}
        pipeline:
          g:
            tasks:
              t: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT,
                  parameters: {project_dir: py, command: "python echo.py ${{ inputs.label }}"}}
        """, inputs={"label": f"x; rm -f {victim}; echo $(rm -f {victim})"})
    assert finished.status == "SUCCEEDED"
    assert victim.read_text() == "keep me"
    outputs = finished.store.get_outputs(finished.by_label()["g.t"]["id"])
    assert outputs["seen"] == f"x; rm -f {victim}; echo $(rm -f {victim})"
