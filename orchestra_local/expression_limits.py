"""Cost bounds of ``${{ ... }}`` evaluation: every loop and every size an expression can drive.

Each exceeded bound is a ``simpleeval.InvalidExpression`` that :func:`bound_message` words with the
bound's name; :func:`orchestra_local.expressions.evaluate` turns it into an ``ExpressionError``.

- ``MAX_EXPRESSION_LENGTH`` = 2,000 characters of expression text;
- ``MAX_INTEGER_BITS`` = 4,096 bits for any integer an operator produces (``4000000**4000000``
  is refused before it is computed; about 1,233 decimal digits);
- ``MAX_POWER`` = 4,000,000 for either side of ``**`` (simpleeval's own bound, kept);
- ``MAX_SHIFT`` = 10,000 for the right side of ``<<`` / ``>>`` (simpleeval's own bound, kept);
- ``MAX_STRING_LENGTH`` = 100,000 characters (or items) for one string, list or f-string an
  operator produces (simpleeval's bound, kept), and ``MAX_FORMAT_WIDTH`` = 1,000 for a width or
  precision in an f-string format spec; ``%`` formatting of strings is not available;
- ``MAX_COMPREHENSION_LENGTH`` = 10,000 iterations of all comprehensions of one evaluation
  (simpleeval's bound, kept);
- ``MAX_PRODUCED_ITEMS`` = 1,000,000 characters or items built in one evaluation in total by
  operators, f-strings, slices and function calls (``list``, ``str``, ``format_date``, ...), so
  10,000 comprehension steps cannot each copy a 100,000-character value. Reading a value (a
  namespace entry, an index, a key) builds nothing and is not counted.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable
from typing import Any

import simpleeval

MAX_EXPRESSION_LENGTH = 2000
"""Longest expression text accepted, in characters (bounds parse and evaluation cost)."""
MAX_INTEGER_BITS = 4096
"""Largest integer an operator may produce, in bits."""
MAX_FORMAT_WIDTH = 1000
"""Largest width or precision in an f-string format spec."""
MAX_PRODUCED_ITEMS = 1_000_000
"""Characters or items all operators of one evaluation may produce together."""
MAX_POWER = simpleeval.MAX_POWER
MAX_SHIFT = simpleeval.MAX_SHIFT
MAX_STRING_LENGTH = simpleeval.MAX_STRING_LENGTH
MAX_COMPREHENSION_LENGTH = simpleeval.MAX_COMPREHENSION_LENGTH


class BoundedEvaluator(simpleeval.EvalWithCompoundTypes):
    """``simpleeval``'s evaluator with every operator, f-string and format spec bounded.

    Args:
        functions: Callable names, as for simpleeval.
        names: Name resolver, as for simpleeval.
    """

    def __init__(self, functions: dict[str, Callable[..., Any]], names: Callable[[ast.Name], Any]):
        super().__init__(functions=functions, names=names)
        self.produced = 0
        for node_type, function in list(self.operators.items()):
            if isinstance(node_type, type) and issubclass(node_type, ast.operator):
                self.operators[node_type] = self._bounded(function)
        self.operators[ast.Pow] = self._bounded(_bounded_power)
        self.operators[ast.Mod] = self._bounded(_modulo)
        self.functions = {name: self._counted_call(function) for name, function in self.functions.items()}

    def _counted_call(self, function: Callable[..., Any]) -> Callable[..., Any]:
        # list(inputs.text) in a 10,000-step comprehension would build 10,000 copies: count what calls build.
        def call(*args: Any, **kwargs: Any) -> Any:
            result = function(*args, **kwargs)
            if not any(result is arg for arg in (*args, *kwargs.values())):
                self._count(result)
            return result

        return call

    def _eval_subscript(self, node: ast.Subscript) -> Any:
        result = super()._eval_subscript(node)
        if isinstance(node.slice, ast.Slice):  # a slice is a copy; an index or key is a reference
            self._count(result)
        return result

    def _bounded(self, function: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        # Operands are bounded (by this check, or by Python's 4,300-digit int() limit), so one operator
        # other than ** is cheap; ** is checked before it computes.
        def apply(left: Any, right: Any) -> Any:
            result = function(left, right)
            self._count(result)
            return result

        return apply

    def _count(self, result: Any) -> None:
        if isinstance(result, int) and not isinstance(result, bool) and result.bit_length() > MAX_INTEGER_BITS:
            raise simpleeval.NumberTooHigh(f"the result exceeds {MAX_INTEGER_BITS} bits (MAX_INTEGER_BITS)")
        if isinstance(result, (str, list, tuple, dict, set)):
            self.produced += len(result)
            if self.produced > MAX_PRODUCED_ITEMS:
                raise simpleeval.IterableTooLong(
                    f"the expression produces more than {MAX_PRODUCED_ITEMS} characters or items (MAX_PRODUCED_ITEMS)")

    def _eval_formattedvalue(self, node: ast.FormattedValue) -> Any:
        if node.format_spec is not None:
            spec = str(self._eval(node.format_spec))
            if any(int(n) > MAX_FORMAT_WIDTH for n in re.findall(r"\d+", spec)):
                raise simpleeval.IterableTooLong(f"a format width above {MAX_FORMAT_WIDTH} (MAX_FORMAT_WIDTH)")
        return super()._eval_formattedvalue(node)

    def _eval_joinedstr(self, node: ast.JoinedStr) -> Any:
        result = super()._eval_joinedstr(node)
        self._count(result)
        return result


def _bounded_power(base: Any, exponent: Any) -> Any:
    """``**`` within MAX_POWER and, for integers, within MAX_INTEGER_BITS (checked before computing)."""
    if abs(base) > MAX_POWER or abs(exponent) > MAX_POWER:
        raise simpleeval.NumberTooHigh(f"{base} ** {exponent}: an operand above {MAX_POWER} (MAX_POWER)")
    # (bit_length - 1) * exponent is a lower bound of the result's bits: refused without computing it.
    whole = isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1
    if whole and (abs(base).bit_length() - 1) * exponent > MAX_INTEGER_BITS:
        raise simpleeval.NumberTooHigh(
                f"{base} ** {exponent}: the result would exceed {MAX_INTEGER_BITS} bits (MAX_INTEGER_BITS)")
    return base**exponent


def _modulo(left: Any, right: Any) -> Any:
    """Numeric ``%`` only: ``'%999999999d' % 1`` would build a gigabyte string."""
    if isinstance(left, (str, bytes)):
        raise simpleeval.FeatureNotAvailable("'%' formatting of strings is not available; use + or f-strings")
    return operator.mod(left, right)


def bound_message(exc: simpleeval.InvalidExpression) -> str:
    """The message of a refused expression, naming the bound when it is one of simpleeval's ("Sorry, ...").

    Args:
        exc: What the evaluator raised.

    Returns:
        One line such as ``a string or list longer than 100000 (MAX_STRING_LENGTH)``.
    """
    message = str(exc)
    if isinstance(exc, simpleeval.IterableTooLong) and message.startswith("Sorry"):
        return f"a string or list longer than {MAX_STRING_LENGTH} (MAX_STRING_LENGTH)"
    if isinstance(exc, simpleeval.IterableTooLong) and message.startswith("Comprehension"):
        return f"comprehensions iterate more than {MAX_COMPREHENSION_LENGTH} times (MAX_COMPREHENSION_LENGTH)"
    if isinstance(exc, simpleeval.NumberTooHigh) and message.startswith("Sorry"):
        operation = message.removeprefix("Sorry! I don't want to evaluate ")
        return f"{operation}: a shift above {MAX_SHIFT} (MAX_SHIFT)"
    return message
