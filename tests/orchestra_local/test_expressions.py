"""The ${{ }} sandbox: every documented form evaluates; unknown names and Python internals are refused."""

from __future__ import annotations

import subprocess
import time
from typing import Any

import pytest

from orchestra_local.errors import ExpressionError
from orchestra_local.expressions import (
    Namespace,
    Scope,
    Status,
    evaluate,
    evaluate_template,
    render,
    resolve,
    substitute,
)


class FakeRun:
    """A RunState with one finished task and a group of two."""

    def task_view(self, task_id: str) -> Namespace:
        tasks = {
            "load": Namespace("tasks['load']", {
                "STATUS": Status("FAILED"), "TASK_RUN_ID": "tr-1", "RUN_PARAMETERS": {},
                "OUTPUTS": {"rows": 5, "table": "orders"},
            })
        }
        if task_id.lower() not in tasks:
            raise KeyError(f"no task '{task_id}' in this pipeline")
        return tasks[task_id.lower()]

    def group_statuses(self, group_id: str) -> list[str]:
        return {"ingest": ["SUCCEEDED", "WARNING"]}[group_id]


SCOPE = Scope(
    inputs={"table": "orders", "n": 3, "flag": True, "cfg": {"k": "v"}},
    env={"HOME": "/home/me", "Mixed": "m"},
    matrix={"t": {"name": "lineitem", "file_path": "/data/x.csv"}},
    orchestra={"PIPELINE_RUN_ID": "pr-1", "TASK_RUN_ID": "tr-9", "CURRENT_TIME": "2024-01-31T08:00:00+00:00"},
    run_state=FakeRun(),
)

CASES: dict[str, tuple[str, Any]] = {
    "input": ("inputs.table", "orders"),
    "input-case-insensitive-namespace": ("INPUTS.n + 1", 4),
    "env": ("ENV.HOME", "/home/me"),
    "env-lowercase-namespace": ("env.HOME", "/home/me"),
    "env-case-fallback": ("ENV.MIXED", "m"),
    "matrix-index": ("MATRIX.t['name']", "lineitem"),
    "matrix-attribute": ("matrix.t.file_path", "/data/x.csv"),
    "run-id": ("ORCHESTRA.PIPELINE_RUN_ID", "pr-1"),
    "task-run-id": ("orchestra.task_run_id", "tr-9"),
    "status-eq": ("tasks['load'].status == 'FAILED'", True),
    "task-id-case-insensitive": ("tasks['LOAD'].STATUS != 'SUCCEEDED'", True),
    "completed": ("tasks['load'].status == 'COMPLETED'", True),
    "completed-in-list": ("tasks['load'].status in ['COMPLETED']", True),
    "pipeline-run-tasks-outputs": ("ORCHESTRA.PIPELINE_RUN_TASKS['load'].OUTPUTS['rows']", 5),
    "group-all": ("task_groups['ingest'].all().status == 'SUCCEEDED'", False),
    "group-all-in": ("task_groups['ingest'].all().status in ['SUCCEEDED', 'WARNING']", True),
    "group-any": ("task_groups['ingest'].any().status == 'WARNING'", True),
    "group-any-ne": ("task_groups['ingest'].any().status != 'WARNING'", False),
    "format-date": ("format_date(ORCHESTRA.CURRENT_TIME, '%Y-%m')", "2024-01"),
    "format-date-tz": ("format_date(ORCHESTRA.CURRENT_TIME, '%H', 'Europe/London')", "08"),
    "add-days": ("add_days('2024-02-28', 2)", "2024-03-01"),
    "add-months-clamps": ("add_months('2024-01-31', 1)", "2024-02-29"),
    "len-int-str": ("len(str(int('42')))", 2),
    "bool-ops": ("inputs.flag is True and not (inputs.n > 5)", True),
    "dict-input": ("inputs.cfg['k']", "v"),
}


@pytest.mark.parametrize(("expression", "expected"), CASES.values(), ids=CASES.keys())
def test_documented_forms_evaluate(expression: str, expected: Any) -> None:
    assert evaluate(expression, SCOPE) == expected


REFUSED = {
    "unknown-input": ("inputs.nope", "inputs has no 'nope'"),
    "unknown-namespace": ("foo.bar", "unknown name 'foo'"),
    "matrix-outside-matrix": ("MATRIX.x", "unknown name 'MATRIX'"),
    "dunder": ("inputs.table.__class__", "not allowed"),
    "string-method": ("inputs.table.upper()", "not available here"),
    "import": ("__import__('os')", "not defined"),
    "builtins-not-listed": ("open('/etc/passwd')", "not defined"),
    "unknown-task": ("tasks['nope'].status", "no task 'nope'"),
    "syntax": ("(1", "syntax error"),
    "huge-power": ("9**9**9", "9 ** "),
    "too-long": ("1+" * 1500 + "1", "longer than"),
    "bad-date": ("add_days('not a date', 1)", "ValueError"),
    "date-overflow": ("add_days('9999-12-31', 1)", "OverflowError: date value out of range"),
    "month-overflow": ("add_months('9999-12-31', 1)", "ValueError"),
    "float-overflow": ("10.0 ** 400", "OverflowError"),
    "unknown-zone": ("format_date('2024-01-01', '%Y', 'No/Zone')", "No/Zone"),
    "int-too-long": ("int('9' * 5000)", "ValueError"),
    "deep-nesting": ("-" * 1990 + "1", "nested too deeply to evaluate (RecursionError)"),
    "huge-int-power": ("4000000 ** 4000000", "MAX_INTEGER_BITS"),
    "huge-int-product": ("(2 ** 4000) * (2 ** 4000)", "exceeds 4096 bits (MAX_INTEGER_BITS)"),
    "huge-shift": ("1 << 10001", "MAX_SHIFT"),
    "long-string": ("'x' * 100001", "longer than 100000 (MAX_STRING_LENGTH)"),
    "long-list": ("[0] * 100001", "MAX_STRING_LENGTH"),
    "percent-format": ("'%0999999999d' % 1", "'%' formatting of strings is not available"),
    "format-width": ("f'{1:>999999999}'", "MAX_FORMAT_WIDTH"),
    "long-comprehension": ("[c for c in 'x' * 10001]", "MAX_COMPREHENSION_LENGTH"),
    "copies-by-calls": ("[list(inputs.table * 10000) for c in 'x' * 200]", "MAX_PRODUCED_ITEMS"),
    "copies-by-slices": ("[(inputs.table * 10000)[1:] for c in 'x' * 200]", "MAX_PRODUCED_ITEMS"),
    "total-produced": ("[inputs.table * 10000 for c in 'x' * 200]", "MAX_PRODUCED_ITEMS"),
}


@pytest.mark.parametrize(("expression", "fragment"), REFUSED.values(), ids=REFUSED.keys())
def test_refused_forms_raise_located_errors(expression: str, fragment: str) -> None:
    scope = Scope(inputs=SCOPE.inputs, orchestra=SCOPE.orchestra, run_state=FakeRun())
    with pytest.raises(ExpressionError) as caught:
        evaluate(expression, scope, "pipeline.g.tasks.t.parameters.command")
    assert fragment in str(caught.value)
    assert "pipeline.g.tasks.t.parameters.command" in str(caught.value)


def test_substitution_is_raw_text_and_renders_json_for_structures() -> None:
    assert substitute("t=${{ inputs.table }} n=${{inputs.n}}", SCOPE) == "t=orders n=3"
    assert substitute('{"cfg": ${{ inputs.cfg }}}', SCOPE) == '{"cfg": {"k": "v"}}'
    assert render(None) == "" and render(True) == "True" and render([1, "a"]) == '[1, "a"]'


def test_unterminated_template_is_an_error() -> None:
    with pytest.raises(ExpressionError, match="unterminated"):
        substitute("x ${{ inputs.table", SCOPE)


def test_evaluate_template_keeps_types_for_a_single_expression() -> None:
    assert evaluate_template("${{ [1, 2, inputs.n] }}", SCOPE) == [1, 2, 3]
    assert evaluate_template("n=${{ inputs.n }}", SCOPE) == "n=3"


def test_resolve_walks_nested_parameters() -> None:
    resolved = resolve({"a": ["${{ inputs.table }}", 1], "b": {"c": "${{ ENV.HOME }}"}}, SCOPE)
    assert resolved == {"a": ["orders", 1], "b": {"c": "/home/me"}}


@pytest.mark.parametrize(
    "template",
    [
        "echo ${{ inputs.evil }}",
        'echo "${{ inputs.evil }}"',
        "echo '${{ inputs.evil }}'",
        "echo pre${{ inputs.evil }}post",
    ],
)
def test_user_values_cannot_inject_shell_syntax(template: str, tmp_path: Any) -> None:
    victim = tmp_path / "victim"
    victim.write_text("still here")
    evil = f"x'; rm -f {victim}; echo \"$(rm -f {victim})\" `rm -f {victim}` \\"
    command = substitute(template, Scope(inputs={"evil": evil}), shell=True)
    output = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, check=True).stdout
    assert victim.exists(), command
    assert evil in output


def test_costly_expressions_are_refused_before_they_cost() -> None:
    for expression in ("4000000 ** 4000000", "[inputs.table * 10000 for c in 'x' * 9000]"):
        started = time.monotonic()
        with pytest.raises(ExpressionError):
            evaluate(expression, SCOPE)
        assert time.monotonic() - started < 1.0, expression


def test_a_missing_env_or_secret_names_only_itself_and_where_to_set_it() -> None:
    scope = Scope(env={"AWS_SECRET_ACCESS_KEY": "x", "HOME": "/h"}, secrets={"API_TOKEN": "t"})
    for expression, name in (("ENV.MISSING", "ENV"), ("secrets.MISSING", "secrets")):
        with pytest.raises(ExpressionError) as caught:
            evaluate(expression, scope, "pipeline.g.tasks.t.parameters.command")
        message = str(caught.value)
        assert f"{name} has no 'MISSING'" in message and "env file" in message
        assert "AWS_SECRET_ACCESS_KEY" not in message and "HOME" not in message and "API_TOKEN" not in message


def test_small_namespaces_still_list_their_names() -> None:
    with pytest.raises(ExpressionError, match=r"inputs has no 'nope' \(known: cfg, flag, n, table\)"):
        evaluate("inputs.nope", SCOPE)


def test_reading_a_large_value_is_not_a_cost() -> None:
    scope = Scope(inputs={"text": "y" * 2_000_000})
    assert evaluate("len(str(inputs.text)) + len(inputs.text[0])", scope) == 2_000_001
