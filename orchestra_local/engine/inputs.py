"""Run inputs: check given values against the pipeline's declared ``inputs`` and fill defaults.

Both the CLI (``--input``) and the API (``runInputs``) reach :func:`resolve_inputs` through
``engine.runner.prepare_run``, so its bounds (``limits.MAX_RUN_INPUT_BYTES``) hold for both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from orchestra_local.errors import ExpressionError, RunInputError
from orchestra_local.expressions import Scope, evaluate_template, has_template
from orchestra_local.spec.limits import MAX_RUN_INPUT_BYTES
from orchestra_local.spec.models import Pipeline, PipelineInput


def _shown(value: Any) -> str:
    """A value for an error message, cut to 80 characters."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _coerce(name: str, declared: PipelineInput, value: Any) -> Any:
    """Convert a value (CLI values arrive as text) to the declared type."""
    kind = declared.type
    try:
        if kind == "string":
            return value if isinstance(value, str) else json.dumps(value) if isinstance(value, (dict, list)) else str(value)
        if kind == "number":
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, (int, float)):
                return value
            number = float(value)
            return int(number) if number.is_integer() and "." not in str(value) else number
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("true", "1", "yes"):
                return True
            if text in ("false", "0", "no"):
                return False
            raise ValueError
        parsed = json.loads(value) if isinstance(value, str) else value
        if (kind == "dict" and not isinstance(parsed, dict)) or (kind == "list" and not isinstance(parsed, list)):
            raise ValueError
        return parsed
    except (ValueError, TypeError):
        raise RunInputError(f"input '{name}' must be a {kind}, got {_shown(value)}") from None


def check_run_input_size(given: Mapping[str, Any]) -> None:
    """Refuse run inputs whose JSON form exceeds ``limits.MAX_RUN_INPUT_BYTES`` (64 KiB).

    Raises:
        RunInputError: Naming the size, the limit and the largest inputs (never their values).
    """
    sizes = {str(name): len(json.dumps(value, default=str).encode()) for name, value in given.items()}
    total = len(json.dumps(dict(given), default=str).encode())
    if total > MAX_RUN_INPUT_BYTES:
        largest = ", ".join(f"{name} ({size:,} bytes)" for name, size in sorted(sizes.items(), key=lambda i: -i[1])[:3])
        raise RunInputError(f"run inputs are {total:,} bytes as JSON; the limit is {MAX_RUN_INPUT_BYTES:,} bytes "
                            f"(MAX_RUN_INPUT_BYTES); largest: {largest}. Pass a path or a table name instead of the data")


def resolve_inputs(pipeline: Pipeline, given: Mapping[str, Any], scope: Scope) -> dict[str, Any]:
    """Merge given run inputs with declared defaults.

    Every problem is collected first and reported in one error, so a user learns all missing
    inputs at once (orchestra-contract: resolve everything, then report).

    Args:
        pipeline: The pipeline whose ``inputs`` are declared.
        given: Values supplied at start (CLI ``--input k=v`` gives text; the API gives JSON).
        scope: For defaults that are expressions (e.g. ``${{ ORCHESTRA.CURRENT_TIME }}``).

    Returns:
        ``{name: value}`` for every declared input that has a value.

    Raises:
        RunInputError: Inputs over ``MAX_RUN_INPUT_BYTES`` (checked before anything else), or one
            message listing every problem: ``Missing required pipeline input: <name>``
            (Orchestra's 400 text; ``inputs: a, b`` for several), undeclared inputs, values of the
            wrong type or outside ``options``.
    """
    check_run_input_size(given)
    declared = pipeline.inputs or {}
    problems: list[str] = []
    unknown = sorted(set(given) - set(declared))
    if unknown:
        names = ", ".join(sorted(declared)) or "none"
        problems.append(f"unknown pipeline input: {', '.join(unknown)} (declared inputs: {names})")
    missing: list[str] = []
    resolved: dict[str, Any] = {}
    for name, spec in declared.items():
        try:
            if name in given:
                value = _coerce(name, spec, given[name])
            elif spec.default is not None:
                value = _coerce(name, spec, _default(name, spec.default, scope))
            elif spec.optional:
                continue
            else:
                missing.append(name)
                continue
            if spec.options is not None and value not in spec.options:
                raise RunInputError(f"input '{name}' must be one of {spec.options}, got {_shown(value)}")
        except RunInputError as exc:
            problems.append(str(exc))
            continue
        resolved[name] = value
    if missing:
        plural = "s" if len(missing) > 1 else ""
        problems.insert(0, f"Missing required pipeline input{plural}: {', '.join(missing)}")
    if problems:
        raise RunInputError("; ".join(problems))
    return resolved


def _default(name: str, default: Any, scope: Scope) -> Any:
    if not has_template(default):
        return default
    try:
        return evaluate_template(default, scope, f"inputs.{name}.default")
    except ExpressionError as exc:
        raise RunInputError(str(exc)) from None
