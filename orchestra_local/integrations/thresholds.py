"""Threshold expressions of SQL tests (POSTGRES_RUN_TEST and the other ``*_RUN_TEST`` jobs).

Contract: orchestra-contract section 4 and ``oml_lang``, whose rule reads "Invalid threshold expression
format (must be a comparator, followed by a non-negative integer)". Probing it shows the exact
format: one of ``= > < >= <= !=``, optional ASCII whitespace, then ASCII digits, with nothing
before or after (``> 0``, ``>0``, ``>= 10``, ``!= 3``; not ``== 0``, ``<> 0``, ``> -1``,
``> 1.5``, `` > 0``). A test's row count that meets the error threshold fails the task; otherwise
one that meets the warn threshold makes it WARNING; otherwise it succeeds. Both default to ``> 0``
(Orchestra's default), so by default any returned row fails the test.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator

from orchestra_local.spec.statuses import TaskRunStatus

DEFAULT_THRESHOLD = "> 0"

COMPARATORS: dict[str, Callable[[int, int], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}

_FORMAT = re.compile(r"(>=|<=|!=|=|>|<)\s*([0-9]+)", re.ASCII)


@dataclass(frozen=True)
class Threshold:
    """A parsed threshold expression: ``count <comparator> value``.

    Attributes:
        comparator: One of ``= != > >= < <=``.
        value: The non-negative integer the row count is compared with.
    """

    comparator: str
    value: int

    def met_by(self, count: int) -> bool:
        """True when ``count`` (rows returned by the test) satisfies the expression."""
        return COMPARATORS[self.comparator](count, self.value)

    def __str__(self) -> str:
        return f"{self.comparator} {self.value}"


def parse_threshold(text: str) -> Threshold:
    """Parse a threshold expression such as ``> 0`` or ``>= 10``.

    Raises:
        ValueError: The text is not a comparator followed by a non-negative integer.
    """
    match = _FORMAT.fullmatch(text)
    if match is None:
        raise ValueError(
            f"invalid threshold expression '{text}': it must be a comparator (=, !=, >, >=, <, <=) "
            "followed by a non-negative integer, e.g. '> 0' or '>= 10'"
        )
    return Threshold(match.group(1), int(match.group(2)))


def _checked(text: str) -> str:
    parse_threshold(text)
    return text


ThresholdExpression = Annotated[str, AfterValidator(_checked)]
"""A parameter holding a threshold expression (validated, kept as the user wrote it)."""


def status_for_count(count: int, error: Threshold, warn: Threshold) -> TaskRunStatus:
    """The task status a test's row count leads to: FAILED, WARNING or SUCCEEDED (error wins)."""
    if error.met_by(count):
        return TaskRunStatus.FAILED
    if warn.met_by(count):
        return TaskRunStatus.WARNING
    return TaskRunStatus.SUCCEEDED
