"""``${{ ... }}`` expressions: substitution into parameters and evaluation of conditions.

Contract: ``docs/orchestra-contract.md`` section 2. Expressions are Python-like and evaluated in a
sandbox built on ``simpleeval`` (an AST walker, never ``eval``): attribute access only on the
documented namespaces, calls only to the listed functions and to ``.all()`` / ``.any()`` of a task
group, bounded cost.
Namespace names (``inputs``, ``ENV``, ``MATRIX``, ``ORCHESTRA``, ``tasks``, ``task_groups``,
``secrets``, ``outputs``) and task ids are case-insensitive.

Substitution is raw text (our rendering rules live in :func:`render`). The one exception
**(our choice)**: when the runner builds a shell command line, a value that read any namespace
(``inputs``, ``MATRIX``, ``ENV``, ``secrets``, task outputs, ``ORCHESTRA``) is data, quoted for the
shell position it lands in by :mod:`orchestra_local.shell`; only a literal written in the pipeline
file itself (``${{ '--full-refresh' }}``) is spliced as raw text.

Cost bounds: :mod:`orchestra_local.expression_limits` (each exceeded bound is an error naming it).

Every failure inside an evaluation (a bad name, a function raising, ``OverflowError``,
``RecursionError``, ``MemoryError``, ...) becomes an :class:`~orchestra_local.errors.ExpressionError`
naming the expression and where it is, so the task it belongs to ends FAILED with that message.
A missing ``ENV`` or ``secrets`` name is reported alone with where to set it: the error never
lists the other names of those namespaces (they can be many, and their names can be telling).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

import simpleeval

from orchestra_local.errors import ExpressionError
from orchestra_local.expression_functions import FUNCTIONS
from orchestra_local.expression_limits import MAX_EXPRESSION_LENGTH, BoundedEvaluator, bound_message
from orchestra_local.shell import ShellValue, build_command
from orchestra_local.spec.statuses import TaskRunStatus

TEMPLATE = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
COMPLETED = "COMPLETED"
"""Compared with a status, ``'COMPLETED'`` means "reached a terminal status" (our choice)."""

LITERAL_NAMES = frozenset({"true", "false", "none"})
"""Names that are constants: an expression reading nothing else was written in the pipeline file."""


class Status(str):
    """A status string that also equals ``'COMPLETED'`` when the status is terminal."""

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str) and other.upper() == COMPLETED:
            return TaskRunStatus(str(self)).is_terminal
        return str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = str.__hash__


class Namespace:
    """A read-only, case-insensitive mapping exposed to expressions as ``NS.key`` and ``NS['key']``.

    Args:
        name: The namespace's name, for error messages (e.g. ``ENV``).
        values: Its entries. An exact-case match wins over a case-insensitive one.
        missing_hint: For a large or sensitive namespace (``ENV``, ``secrets``): where a missing
            entry is set. When given, an error names only the missing key, never the others.
    """

    def __init__(self, name: str, values: Mapping[str, Any], missing_hint: str | None = None):
        self._name = name
        self._values = dict(values)
        self._folded = {str(k).lower(): v for k, v in self._values.items()}
        self._missing_hint = missing_hint

    def lookup(self, key: Any) -> Any:
        """Return the entry for ``key``, raising ``KeyError`` naming the namespace when absent."""
        if key in self._values:
            return self._values[key]
        folded = str(key).lower()
        if folded in self._folded:
            return self._folded[folded]
        if self._missing_hint is not None:
            raise KeyError(f"{self._name} has no '{key}'; {self._missing_hint}")
        known = ", ".join(sorted(map(str, self._values))) or "none"
        raise KeyError(f"{self._name} has no '{key}' (known: {known})")

    def __getitem__(self, key: Any) -> Any:
        return self.lookup(key)

    def __contains__(self, key: object) -> bool:
        return key in self._values or str(key).lower() in self._folded

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"<{self._name}>"


class RunState(Protocol):
    """What expressions may read about the current pipeline run (the executor implements it)."""

    def task_view(self, task_id: str) -> Namespace:
        """``tasks['<id>']``: a namespace with STATUS, TASK_RUN_ID, RUN_PARAMETERS, OUTPUTS.

        Raises:
            KeyError: When the pipeline has no such task.
        """
        ...

    def group_statuses(self, group_id: str) -> list[str]:
        """Statuses of every task run of a top-level entry (all matrix iterations).

        Raises:
            KeyError: When the pipeline has no such entry.
        """
        ...


class GroupSelection:
    """``task_groups['g'].all()`` / ``.any()``: ``.status`` compared with ``==``, ``!=``, ``in``.

    ``all().status == 'SUCCEEDED'`` holds when every task run of the group has that status;
    ``any().status == 'FAILED'`` when at least one has. ``!=`` is the negation of ``==``.
    """

    def __init__(self, statuses: list[str], quantifier: Callable[[Iterator[bool]], bool]):
        self.status = _QuantifiedStatus(statuses, quantifier)


class _QuantifiedStatus:
    def __init__(self, statuses: list[str], quantifier: Callable[[Iterator[bool]], bool]):
        self._statuses = [Status(s) for s in statuses]
        self._quantifier = quantifier

    def __eq__(self, other: object) -> bool:
        return self._quantifier(s == other for s in self._statuses)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def is_in(self, options: Any) -> bool:
        return self._quantifier(any(s == o for o in options) for s in self._statuses)

    __hash__ = None  # type: ignore[assignment]


class _GroupView:
    def __init__(self, statuses: list[str]):
        self._statuses = statuses

    def all(self) -> GroupSelection:
        return GroupSelection(self._statuses, all)

    def any(self) -> GroupSelection:
        return GroupSelection(self._statuses, any)


@dataclass
class Scope:
    """Everything an expression can see.

    Attributes:
        inputs: Resolved run inputs.
        env: Environment variables (process environment plus env file, locally).
        matrix: ``{key: value}`` of the current matrix iteration, if any.
        orchestra: ``PIPELINE_RUN_ID``, ``TASK_RUN_ID``, ``PIPELINE_RUN_STARTED_AT``, ``CURRENT_TIME``,
            ``CURRENT_BRANCH`` (ISO 8601 strings for times).
        run_state: Access to task and group statuses and outputs, when evaluating inside a run.
        secrets: ``secrets.<NAME>`` values.
        outputs: ``outputs.<key>`` (sensor ``map_outputs`` and trigger ``run_inputs`` only).
    """

    inputs: Mapping[str, Any] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    matrix: Mapping[str, Any] | None = None
    orchestra: Mapping[str, Any] = field(default_factory=dict)
    run_state: RunState | None = None
    secrets: Mapping[str, str] = field(default_factory=dict)
    outputs: Mapping[str, Any] | None = None


class _Evaluator(BoundedEvaluator):
    """simpleeval with our attribute and call rules, and the cost bounds."""

    def __init__(self, names: Callable[[ast.Name], Any]):
        super().__init__(functions=dict(FUNCTIONS), names=names)

    def _eval_attribute(self, node: ast.Attribute) -> Any:
        if node.attr.startswith("_"):
            raise simpleeval.FeatureNotAvailable(f"access to '{node.attr}' is not allowed")
        target = self._eval(node.value)
        if isinstance(target, Namespace):
            return target.lookup(node.attr)
        if isinstance(target, Mapping):  # e.g. matrix.t.file_path on a dict-valued iteration
            return Namespace("value", target).lookup(node.attr)
        if isinstance(target, _GroupView) and node.attr in ("all", "any"):
            return getattr(target, node.attr)
        if isinstance(target, GroupSelection) and node.attr == "status":
            return target.status
        raise simpleeval.FeatureNotAvailable(
            f"'.{node.attr}' is not available here; attributes exist only on Orchestra namespaces"
        )

    def _eval_compare(self, node: ast.Compare) -> Any:
        # `task_groups[..].all().status in [...]` needs the quantifier applied per option.
        left = self._eval(node.left)
        if isinstance(left, _QuantifiedStatus) and len(node.ops) == 1 and isinstance(node.ops[0], (ast.In, ast.NotIn)):
            result = left.is_in(self._eval(node.comparators[0]))
            return result if isinstance(node.ops[0], ast.In) else not result
        return super()._eval_compare(node)


ENV_HINT = ("set it in the env file (.env or --env-file), in the values of the selected environment "
            "(environments.yml), or in the runner's process environment")
SECRETS_HINT = "set it in the env file (.env or --env-file) or in the runner's process environment"


def _namespaces(scope: Scope) -> dict[str, Any]:
    names: dict[str, Any] = {
        "inputs": Namespace("inputs", scope.inputs),
        "env": Namespace("ENV", scope.env, missing_hint=ENV_HINT),
        "secrets": Namespace("secrets", scope.secrets, missing_hint=SECRETS_HINT),
        "true": True,
        "false": False,
        "none": None,
    }
    if scope.matrix is not None:
        names["matrix"] = Namespace("MATRIX", scope.matrix)
    if scope.outputs is not None:
        names["outputs"] = Namespace("outputs", scope.outputs)
    orchestra = dict(scope.orchestra)
    if scope.run_state is not None:
        names["tasks"] = _TaskIndex(scope.run_state)
        names["task_groups"] = _GroupIndex(scope.run_state)
        orchestra["PIPELINE_RUN_TASKS"] = names["tasks"]
    names["orchestra"] = Namespace("ORCHESTRA", orchestra)
    return names


class _TaskIndex:
    def __init__(self, state: RunState):
        self._state = state

    def __getitem__(self, task_id: str) -> Namespace:
        return self._state.task_view(str(task_id))


class _GroupIndex:
    def __init__(self, state: RunState):
        self._state = state

    def __getitem__(self, group_id: str) -> _GroupView:
        return _GroupView(self._state.group_statuses(str(group_id)))


def _parse(expression: str, where: str | None) -> ast.Expression:
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(
            f"longer than {MAX_EXPRESSION_LENGTH} characters (MAX_EXPRESSION_LENGTH)",
            expression=expression[:80] + "...", where=where,
        )
    try:
        return ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"syntax error ({exc.msg})", expression=expression.strip(), where=where) from None
    except (RecursionError, MemoryError, ValueError) as exc:  # too deeply nested, or a NUL byte in the text
        raise ExpressionError(f"cannot be parsed ({type(exc).__name__}: {exc})", expression=expression.strip()[:200],
                              where=where) from None


def evaluate(expression: str, scope: Scope, where: str | None = None) -> Any:
    """Evaluate the text between ``${{`` and ``}}``.

    Args:
        expression: e.g. ``inputs.table`` or ``tasks['load'].status == 'SUCCEEDED'``.
        scope: What the expression can see.
        where: Where the expression appears (YAML path), for error messages.

    Returns:
        The value (any JSON-like type, a date, or a status string).

    Raises:
        ExpressionError: Syntax error, unknown name/key/task, forbidden construct, an exceeded cost
            bound, or any exception raised while evaluating (a function's, ``OverflowError``,
            ``RecursionError``, ``MemoryError``, ...).
    """
    tree = _parse(expression, where)
    names = _namespaces(scope)

    def lookup(node: ast.Name) -> Any:
        folded = node.id.lower()
        if folded in names:
            return names[folded]
        raise simpleeval.NameNotDefined(node.id, expression)

    evaluator = _Evaluator(lookup)
    evaluator.expr = expression
    text = expression.strip()
    try:
        return evaluator._eval(tree.body)  # noqa: SLF001 - simpleeval's documented way to run a pre-parsed tree
    except simpleeval.NameNotDefined as exc:
        known = ", ".join(sorted({"inputs", "ENV", "MATRIX", "ORCHESTRA", "tasks", "task_groups", "secrets"}))
        hint = " (MATRIX exists only inside a matrix group)" if exc.name.lower() == "matrix" else ""
        raise ExpressionError(f"unknown name '{exc.name}'{hint}; names: {known}", expression=text, where=where) from None
    except KeyError as exc:
        raise ExpressionError(str(exc.args[0]), expression=text, where=where) from None
    except simpleeval.InvalidExpression as exc:
        raise ExpressionError(bound_message(exc), expression=text, where=where) from None
    except ExpressionError:
        raise
    except RecursionError:
        raise ExpressionError("nested too deeply to evaluate (RecursionError)", expression=text, where=where) from None
    except Exception as exc:  # noqa: BLE001 - any failure of an expression is the expression's error, never a crash
        raise ExpressionError(f"{type(exc).__name__}: {_short(exc)}", expression=text, where=where) from None


def _short(exc: BaseException) -> str:
    """An exception's message, cut to 300 characters (a huge value must not flood the task message)."""
    message = str(exc)
    return message if len(message) <= 300 else message[:300] + "..."


def render(value: Any) -> str:
    """Text of a value substituted into a parameter (our choice where Orchestra is silent).

    Strings as they are; dicts and lists as JSON; ``None`` as the empty string; dates in ISO 8601;
    everything else (numbers, booleans) as Python's ``str``.
    """
    if isinstance(value, str):
        return str(value)
    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def names_used(expression: str) -> set[str]:
    """Lower-cased top-level names an expression reads (``{'inputs', 'tasks'}``); empty if unparsable."""
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        return set()
    return {node.id.lower() for node in ast.walk(tree) if isinstance(node, ast.Name)}


def is_literal(expression: str) -> bool:
    """True when an expression reads no namespace: its value was written in the pipeline file itself."""
    return not (names_used(expression) - LITERAL_NAMES) and "${{" not in expression


def has_template(value: Any) -> bool:
    """True when ``value`` is a string holding at least one ``${{ ... }}``."""
    return isinstance(value, str) and "${{" in value


def substitute(text: str, scope: Scope, where: str | None = None, *, shell: bool = False) -> str:
    """Replace every ``${{ ... }}`` in ``text`` with the rendered value of its expression.

    Args:
        text: Parameter text.
        scope: What expressions can see.
        where: YAML path of the parameter, for errors.
        shell: ``text`` is a shell command line: every value that read a namespace is placed as data
            (see :mod:`orchestra_local.shell`); literals are spliced raw.

    Raises:
        ExpressionError: From any expression, or for an unterminated ``${{``; with ``shell``, a
            :class:`~orchestra_local.shell.ShellPlacementError` for a value that cannot be placed safely.
    """
    pieces: list[str | ShellValue] = []
    last = 0
    for match in TEMPLATE.finditer(text):
        pieces.append(text[last : match.start()])
        expression = match.group(1)
        rendered = render(evaluate(expression, scope, where))
        pieces.append(ShellValue(rendered, expression.strip(), quote=not is_literal(expression)) if shell else rendered)
        last = match.end()
    rest = text[last:]
    if "${{" in rest:
        raise ExpressionError("unterminated '${{' (missing '}}')", expression=rest.split("${{", 1)[1][:60], where=where)
    pieces.append(rest)
    if shell:
        return build_command(pieces, where)
    return "".join(p if isinstance(p, str) else p.text for p in pieces)


def evaluate_template(text: str, scope: Scope, where: str | None = None) -> Any:
    """Typed value of a string that is exactly one ``${{ ... }}``; otherwise its substituted text.

    Used where a value (not text) is expected: conditions and expression-valued ``matrix.inputs``.
    """
    match = TEMPLATE.fullmatch(text.strip())
    if match is not None:
        return evaluate(match.group(1), scope, where)
    return substitute(text, scope, where)


def resolve(value: Any, scope: Scope, where: str = "parameters") -> Any:
    """Substitute expressions in every string of a parameters structure (dicts, lists, scalars).

    Returns:
        A new structure of the same shape; strings without ``${{`` are returned unchanged.
    """
    if isinstance(value, str):
        return substitute(value, scope, where) if "${{" in value else value
    if isinstance(value, Mapping):
        return {k: resolve(v, scope, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, scope, f"{where}[{i}]") for i, v in enumerate(value)]
    return value
