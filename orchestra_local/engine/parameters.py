"""Resolving a task's parameters: every ``${{ }}`` substituted according to what the parameter is.

Three kinds (``docs/orchestra-contract.md`` section 2):

- a shell command line (the integration's ``SHELL_PARAMETERS``, e.g. ``command``): values are
  placed as data by :mod:`orchestra_local.shell` **(our choice)**;
- ``environment_variables`` written as a JSON object in a string: the JSON text of the pipeline
  file is parsed FIRST, then values are substituted into the parsed values only, so a value can
  never add a variable, and keys never come from an expression **(our choice; Orchestra documents
  "parsed after substitution")**. ``'{"TABLE": "${{ inputs.table }}"}'`` substitutes text into the
  string; ``'{"N": ${{ inputs.n }}}'`` (a whole JSON value) keeps the value's type, rendered as
  JSON text by :func:`~orchestra_local.integrations.base.parse_environment_variables`;
- everything else: raw text substitution in every string (:func:`~orchestra_local.expressions.resolve`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from orchestra_local.errors import InvalidParametersError
from orchestra_local.expressions import TEMPLATE, Scope, evaluate, has_template, resolve, substitute

JSON_OBJECT_PARAMETERS = frozenset({"environment_variables"})
"""Parameters holding a JSON object as a string, parsed before substitution."""

EXAMPLE = """'{"TABLE": "${{ inputs.table }}"}'"""


def resolve_parameters(parameters: Mapping[str, Any], scope: Scope, where: str,
                       shell_parameters: frozenset[str]) -> dict[str, Any]:
    """Substitute every expression of a task's ``parameters``.

    Args:
        parameters: The task's ``parameters`` as written in the pipeline file.
        scope: What expressions can see.
        where: YAML path of the ``parameters`` mapping, for errors.
        shell_parameters: Names of the parameters that are shell command lines.

    Returns:
        The resolved parameters (``environment_variables`` as a dict when it held expressions).

    Raises:
        ExpressionError: An expression fails, or a value cannot be placed safely in a command.
        InvalidParametersError: ``environment_variables`` with expressions is not a JSON object
            before substitution, or has an expression in a key.
    """
    resolved: dict[str, Any] = {}
    for key, value in parameters.items():
        path = f"{where}.{key}"
        if key in shell_parameters and isinstance(value, str):
            resolved[key] = substitute(value, scope, path, shell=True)
        elif key in JSON_OBJECT_PARAMETERS and has_template(value):
            resolved[key] = resolve_json_object(value, scope, path)
        else:
            resolved[key] = resolve(value, scope, path)
    return resolved


def resolve_json_object(text: str, scope: Scope, where: str) -> dict[str, Any]:
    """Parse the JSON object of ``text`` as written, then substitute expressions into its values.

    Each ``${{ }}`` is first replaced by a number that is valid JSON both inside a string and as a
    whole value, so the pipeline file's own JSON decides the structure.

    Raises:
        InvalidParametersError: The text is not a JSON object, a key holds an expression, or a
            value holds a NUL character.
        ExpressionError: An expression fails.
    """
    expressions: dict[str, str] = {}
    base = 10**17
    while True:  # marks that the text does not already hold

        def token(match: Any, base: int = base) -> str:
            mark = str(base + len(expressions))
            expressions[mark] = match.group(1)
            return mark

        probe = TEMPLATE.sub(token, text)
        if all(probe.count(mark) == 1 for mark in expressions):
            break
        expressions.clear()
        base += 10**17
    try:
        parsed = json.loads(probe)
    except json.JSONDecodeError as exc:
        raise InvalidParametersError(
            f"{where} is not a JSON object in the pipeline file ({exc.msg} at char {exc.pos}); it is parsed "
            f"before substitution, so write a JSON object with each ${{{{ }}}} inside a value, e.g. {EXAMPLE}"
        ) from None
    if not isinstance(parsed, dict):
        raise InvalidParametersError(
            f"{where} must be a JSON object written in the pipeline file (its keys never come from an "
            f"expression), e.g. {EXAMPLE}")

    def fill(value: Any, path: str) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and str(value) in expressions:
            return evaluate(expressions[str(value)], scope, path)
        if isinstance(value, str):
            restored = value
            for mark, expression in expressions.items():
                restored = restored.replace(mark, "${{" + expression + "}}")
            return substitute(restored, scope, path) if restored != value else value
        if isinstance(value, list):
            return [fill(item, f"{path}[{index}]") for index, item in enumerate(value)]
        if isinstance(value, dict):
            return {_key(k, path): fill(v, f"{path}.{k}") for k, v in value.items()}
        return value

    def _key(key: str, path: str) -> str:
        if any(mark in key for mark in expressions):
            raise InvalidParametersError(f"{path}: a key of environment_variables cannot hold ${{{{ }}}}; "
                                         f"write the variable names in the pipeline file, e.g. {EXAMPLE}")
        return key

    filled = {_key(k, where): fill(v, f"{where}.{k}") for k, v in parsed.items()}
    for key, value in filled.items():
        if isinstance(value, str) and "\x00" in value:
            raise InvalidParametersError(f"{where}.{key}: the value holds a NUL character, which no environment "
                                         "variable can carry; remove it from the value")
    return filled
