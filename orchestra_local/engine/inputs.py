"""Run inputs: check given values against the pipeline's declared ``inputs`` and fill defaults."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from orchestra_local.errors import ExpressionError, RunInputError
from orchestra_local.expressions import Scope, evaluate_template, has_template
from orchestra_local.spec.models import Pipeline, PipelineInput


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
        raise RunInputError(f"input '{name}' must be a {kind}, got {value!r}") from None


def resolve_inputs(pipeline: Pipeline, given: Mapping[str, Any], scope: Scope) -> dict[str, Any]:
    """Merge given run inputs with declared defaults.

    Args:
        pipeline: The pipeline whose ``inputs`` are declared.
        given: Values supplied at start (CLI ``--input k=v`` gives text; the API gives JSON).
        scope: For defaults that are expressions (e.g. ``${{ ORCHESTRA.CURRENT_TIME }}``).

    Returns:
        ``{name: value}`` for every declared input that has a value.

    Raises:
        RunInputError: ``Missing required pipeline input: <name>`` (Orchestra's 400 text), an
            undeclared input, a value of the wrong type, or one outside ``options``.
    """
    declared = pipeline.inputs or {}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        names = ", ".join(sorted(declared)) or "none"
        raise RunInputError(f"unknown pipeline input: {', '.join(unknown)} (declared inputs: {names})")
    resolved: dict[str, Any] = {}
    for name, spec in declared.items():
        if name in given:
            value = _coerce(name, spec, given[name])
        elif spec.default is not None:
            default = spec.default
            if has_template(default):
                try:
                    default = evaluate_template(default, scope, f"inputs.{name}.default")
                except ExpressionError as exc:
                    raise RunInputError(str(exc)) from None
            value = _coerce(name, spec, default)
        elif spec.optional:
            continue
        else:
            raise RunInputError(f"Missing required pipeline input: {name}")
        if spec.options is not None and value not in spec.options:
            raise RunInputError(f"input '{name}' must be one of {spec.options}, got {value!r}")
        resolved[name] = value
    return resolved
