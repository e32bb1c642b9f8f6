"""Run inputs: every problem reported at once, and the size bound of ``limits.MAX_RUN_INPUT_BYTES``."""

from __future__ import annotations

import pytest

from orchestra_local.engine.inputs import resolve_inputs
from orchestra_local.errors import RunInputError
from orchestra_local.expressions import Scope
from orchestra_local.spec.limits import MAX_RUN_INPUT_BYTES
from orchestra_local.spec.models import Pipeline

TASK = {"integration": "PYTHON", "integration_job": "PYTHON_EXECUTE_SCRIPT", "parameters": {"command": "python x.py"}}


def pipeline(**inputs: dict) -> Pipeline:
    return Pipeline.model_validate({"version": "v1", "name": "p", "pipeline": {"g": {"tasks": {"t": TASK}}},
                                    "inputs": inputs})


PROBLEMS = {
    "one-missing-keeps-orchestras-text": (
        pipeline(day={"type": "string"}), {}, "Missing required pipeline input: day"),
    "all-missing-at-once": (
        pipeline(day={"type": "string"}, region={"type": "string"}, limit={"type": "number", "default": 5}), {},
        "Missing required pipeline inputs: day, region"),
    "missing-and-unknown-and-mistyped-together": (
        pipeline(day={"type": "string"}, limit={"type": "number"}, mode={"type": "string", "options": ["a", "b"]}),
        {"limit": "many", "mode": "c", "nope": 1},
        "Missing required pipeline input: day; unknown pipeline input: nope (declared inputs: day, limit, mode); "
        "input 'limit' must be a number, got 'many'; input 'mode' must be one of ['a', 'b'], got 'c'"),
}


@pytest.mark.parametrize(("declared", "given", "message"), PROBLEMS.values(), ids=PROBLEMS.keys())
def test_every_input_problem_is_reported_in_one_error(declared: Pipeline, given: dict, message: str) -> None:
    with pytest.raises(RunInputError) as caught:
        resolve_inputs(declared, given, Scope())
    assert str(caught.value) == message


def test_run_inputs_over_the_size_limit_are_refused_before_anything_else() -> None:
    """A 50 MB run input used to be accepted; the error names sizes, never the values."""
    declared = pipeline(rows={"type": "list"}, day={"type": "string"})
    big = ["x" * 1000] * (MAX_RUN_INPUT_BYTES // 1000 + 1)
    with pytest.raises(RunInputError) as caught:
        resolve_inputs(declared, {"rows": big}, Scope())
    message = str(caught.value)
    assert f"limit is {MAX_RUN_INPUT_BYTES:,} bytes" in message and "largest: rows (" in message
    assert "Missing" not in message and "xxxx" not in message


def test_run_inputs_within_the_limit_resolve() -> None:
    declared = pipeline(rows={"type": "list"})
    rows = ["x" * 100] * 100
    assert resolve_inputs(declared, {"rows": rows}, Scope()) == {"rows": rows}
