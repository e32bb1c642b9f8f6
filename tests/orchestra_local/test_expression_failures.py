"""A failing ``${{ }}`` anywhere in a run ends as a located FAILED task, never a crashed run.

``add_days('9999-12-31', 1)`` raises OverflowError inside the function; the same holds for any
exception an expression raises. Each place an expression is evaluated during a run is covered:
a task condition, a group condition, a parameter, matrix inputs read from task outputs (known only
during the run); and the real CLI exits 1 with one message per task and no traceback. Matrix
inputs that read no task are expanded before the run: a located validation error (exit 2).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from textwrap import dedent

import pytest

CLI = str(Path(sys.executable).with_name("orchestra-local"))

OVERFLOW = "add_days('9999-12-31', 1)"
RUN = "integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT"
# Entries with ids @G@, @T@, @A@, @FIRST@ (renamed per copy in the CLI test), the task label, where it fails.
PLACES = {
    "task-condition": (f"""
        @G@:
          tasks:
            @T@: {{{RUN}, condition: "${{{{ {OVERFLOW} > '' }}}}", parameters: {{command: python task.py, project_dir: py}}}}
        """, "@G@.@T@", "pipeline.@G@.tasks.@T@.condition"),
    "group-condition": (f"""
        @G@:
          condition: "${{{{ {OVERFLOW} > '' }}}}"
          tasks:
            @T@: {{{RUN}, parameters: {{command: python task.py, project_dir: py}}}}
        """, "@G@.@T@", "pipeline.@G@.condition"),
    "parameter": (f"""
        @G@:
          tasks:
            @T@: {{{RUN}, parameters: {{command: "python task.py --name ${{{{ {OVERFLOW} }}}}", project_dir: py}}}}
        """, "@G@.@T@", "pipeline.@G@.tasks.@T@.parameters.command"),
    "matrix-inputs-from-outputs": (f"""
        @FIRST@:
          tasks:
            @A@: {{{RUN}, parameters: {{command: python task.py --name a, project_dir: py}}}}
        @G@:
          depends_on: [@FIRST@]
          matrix:
            inputs: {{day: "${{{{ [add_days('9999-12-31', tasks['@A@'].outputs['rows_read'])] }}}}"}}
          tasks:
            @T@: {{{RUN}, parameters: {{command: python task.py, project_dir: py}}}}
        """, "@G@.@T@[*]", "pipeline.@G@.matrix.inputs.day"),
}


def renamed(text: str, suffix: str = "") -> str:
    for name in ("FIRST", "G", "T", "A"):
        text = text.replace(f"@{name}@", name.lower() + suffix)
    return text


def pipeline(*bodies: str) -> str:
    lines = [line for body in bodies for line in dedent(body).strip("\n").splitlines()]
    return "version: v1\nname: failing-expressions\npipeline:\n" + "\n".join("  " + line for line in lines) + "\n"


@pytest.mark.parametrize("place", PLACES)
def test_failing_expression_fails_its_task_with_a_located_message(place: str, run_pipeline) -> None:
    body, label, where = (renamed(part) for part in PLACES[place])
    finished = run_pipeline(pipeline(body))
    assert finished.status == "FAILED"
    record = finished.by_label()[label]
    assert record["status"] == "FAILED", record
    assert where in record["message"] and "OverflowError" in record["message"], record["message"]
    assert "add_days('9999-12-31'" in record["message"]


@pytest.mark.e2e
def test_cli_exits_1_with_every_failure_located_and_no_traceback(task_repo: Path) -> None:
    path = task_repo / "orchestra" / "failing.yml"
    path.write_text(pipeline(*(renamed(body, str(i)) for i, (body, _, _) in enumerate(PLACES.values()))))
    done = subprocess.run([CLI, "run", str(path)], capture_output=True, text=True, timeout=300, cwd=task_repo)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output
    for index, (_, _, where) in enumerate(PLACES.values()):
        assert renamed(where, str(index)) in output, output


@pytest.mark.e2e
def test_cli_matrix_over_inputs_is_a_located_error_before_the_run(task_repo: Path) -> None:
    path = task_repo / "orchestra" / "matrix.yml"
    path.write_text(pipeline(f"""
        g:
          matrix:
            inputs: {{day: "${{{{ [{OVERFLOW}] }}}}"}}
          tasks:
            t: {{integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT,
                parameters: {{command: python task.py, project_dir: py}}}}
        """))
    done = subprocess.run([CLI, "run", str(path)], capture_output=True, text=True, timeout=300, cwd=task_repo)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert "pipeline.g.matrix.inputs.day" in done.stderr and "OverflowError" in done.stderr
