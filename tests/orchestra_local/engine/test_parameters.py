"""Resolving parameters: environment_variables is parsed as written, then filled; keys never from values."""

from __future__ import annotations

import shlex
from typing import Any

import pytest

from orchestra_local.engine.parameters import resolve_json_object, resolve_parameters
from orchestra_local.errors import InvalidParametersError
from orchestra_local.expressions import Scope
from orchestra_local.integrations import dbt_core
from orchestra_local.integrations.base import parse_environment_variables

HOSTILE = 'x", "INJECTED": "yes'
SCOPE = Scope(inputs={"x": HOSTILE, "n": 3, "flag": True, "cfg": {"k": "v"}, "nul": "a\x00b"})
WHERE = "pipeline.g.tasks.t.parameters.environment_variables"

FILLED: dict[str, tuple[str, dict[str, str]]] = {
    "value-in-string": ('{"VALUE": "${{ inputs.x }}"}', {"VALUE": HOSTILE}),
    "text-around": ('{"VALUE": "pre-${{ inputs.x }}-post"}', {"VALUE": f"pre-{HOSTILE}-post"}),
    "two-in-one-string": ('{"V": "${{ inputs.n }}/${{ inputs.n }}"}', {"V": "3/3"}),
    "whole-json-value-keeps-type": ('{"N": ${{ inputs.n }}, "F": ${{ inputs.flag }}}', {"N": "3", "F": "true"}),
    "object-value": ('{"CFG": ${{ inputs.cfg }}}', {"CFG": '{"k": "v"}'}),
    "nested-list": ('{"L": ["${{ inputs.n }}", 1]}', {"L": '["3", 1]'}),
    "literal-digits-untouched": ('{"A": "100000000000000000", "B": "${{ inputs.n }}"}',
                                 {"A": "100000000000000000", "B": "3"}),
}


@pytest.mark.parametrize(("text", "expected"), FILLED.values(), ids=FILLED.keys())
def test_values_are_filled_into_the_parsed_object(text: str, expected: dict[str, str]) -> None:
    assert parse_environment_variables(resolve_json_object(text, SCOPE, WHERE)) == expected


REFUSED = {
    "whole-object-from-an-input": ("${{ inputs.x }}", "must be a JSON object written in the pipeline file"),
    "key-from-an-input": ('{"${{ inputs.x }}": "v"}', "a key of environment_variables cannot hold"),
    "not-json-before-substitution": ('{"A": "${{ inputs.x }}"', "is not a JSON object in the pipeline file"),
    "json-list": ('["${{ inputs.x }}"]', "must be a JSON object"),
    "nul-in-a-value": ('{"V": "${{ inputs.nul }}"}', "NUL character"),
}


@pytest.mark.parametrize(("text", "fragment"), REFUSED.values(), ids=REFUSED.keys())
def test_structure_never_comes_from_a_value(text: str, fragment: str) -> None:
    with pytest.raises(InvalidParametersError) as caught:
        resolve_json_object(text, SCOPE, WHERE)
    assert fragment in str(caught.value) and WHERE in str(caught.value)


def test_resolve_parameters_routes_each_kind() -> None:
    parameters: dict[str, Any] = {
        "command": "python x.py ${{ inputs.x }}",
        "environment_variables": '{"VALUE": "${{ inputs.x }}"}',
        "project_dir": "py/${{ inputs.n }}",
        "plain_json": '{"A": 1}',
    }
    resolved = resolve_parameters(parameters, SCOPE, "pipeline.g.tasks.t.parameters", frozenset({"command"}))
    assert resolved == {
        "command": "python x.py 'x\", \"INJECTED\": \"yes'",
        "environment_variables": {"VALUE": HOSTILE},
        "project_dir": "py/3",
        "plain_json": '{"A": 1}',
    }


def test_a_value_cannot_add_a_dbt_command_or_argument() -> None:
    value = "m --full-refresh; dbt run-operation drop_everything"
    resolved = resolve_parameters({"commands": "dbt seed; dbt build --select ${{ inputs.x }};"},
                                  Scope(inputs={"x": value}), "pipeline.g.tasks.t.parameters", dbt_core.SHELL_PARAMETERS)
    steps = dbt_core.Parameters.model_validate(resolved).steps()
    assert [shlex.split(step) for step in steps] == [["dbt", "seed"], ["dbt", "build", "--select", value]]
