"""Backfill windows: a date range cut into consecutive, inclusive calendar windows.

``2024-01-01 .. 2024-03-31`` by ``1 month`` is three windows, ``[01-01, 01-31]``, ``[02-01, 02-29]``,
``[03-01, 03-31]``; the last window is clipped to the range's end. Each window fills the run inputs of
one pipeline run through the placeholders ``{window_start}`` and ``{window_end}`` (ISO dates).
Month steps use ``dateutil.relativedelta`` from the range's start, so a range starting on the 31st
steps to the last day of shorter months and back (``01-31``, ``02-29``, ``03-31``).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta

PLACEHOLDERS = frozenset({"window_start", "window_end"})
"""The names a backfill's input templates may use, as ``{window_start}`` and ``{window_end}``."""

MAX_WINDOWS = 10_000
"""Most windows one range may expand into (a typo such as ``1 day`` over 300 years stops here)."""

_STEP = re.compile(r"^\s*(\d+)\s*(day|week|month)s?\s*$", re.IGNORECASE)


class WindowError(ValueError):
    """A step, range or input template that cannot be expanded; the message says what to write."""


@dataclass(frozen=True, order=True)
class Step:
    """A window length: ``count`` days, weeks or months (``unit``)."""

    count: int
    unit: str

    @classmethod
    def parse(cls, text: str) -> Step:
        """``"1 day"``, ``"2 weeks"``, ``"1 month"`` (singular or plural, any case).

        Raises:
            WindowError: Anything else, or a count of 0.
        """
        match = _STEP.match(text) if isinstance(text, str) else None
        if match is None or int(match.group(1)) == 0:
            raise WindowError(f"step {text!r} is not a window length: write e.g. '1 day', '1 week' or '1 month'")
        return cls(int(match.group(1)), match.group(2).lower())

    def after(self, start: date, steps: int) -> date:
        """The date ``steps`` of these steps after ``start``."""
        if self.unit == "month":
            return start + relativedelta(months=self.count * steps)
        return start + timedelta(days=self.count * steps * (7 if self.unit == "week" else 1))

    def __str__(self) -> str:
        return f"{self.count} {self.unit}{'s' if self.count > 1 else ''}"


@dataclass(frozen=True, order=True)
class Window:
    """One inclusive date window of a backfill."""

    start: date
    end: date

    def values(self) -> dict[str, str]:
        """The placeholder values: ``{"window_start": "2024-01-01", "window_end": "2024-01-31"}``."""
        return {"window_start": self.start.isoformat(), "window_end": self.end.isoformat()}


def expand(start: date, end: date, step: Step, *, newest_first: bool = False) -> list[Window]:
    """Cut ``start .. end`` (both included) into windows of ``step``, oldest first by default.

    Raises:
        WindowError: ``end`` before ``start``, or more than :data:`MAX_WINDOWS` windows.
    """
    if end < start:
        raise WindowError(f"the range ends ({end}) before it starts ({start})")
    windows: list[Window] = []
    index = 0
    while True:
        first = step.after(start, index)
        if first > end:
            break
        if len(windows) == MAX_WINDOWS:
            raise WindowError(f"{start} .. {end} by {step} is more than {MAX_WINDOWS:,} windows: use a longer step")
        windows.append(Window(first, min(step.after(start, index + 1) - timedelta(days=1), end)))
        index += 1
    return windows[::-1] if newest_first else windows


def check_templates(templates: dict[str, Any]) -> None:
    """Refuse input templates that use a placeholder other than :data:`PLACEHOLDERS`.

    Non-string values pass unchanged; ``{{`` and ``}}`` stand for literal braces.

    Raises:
        WindowError: Naming the input and the placeholder.
    """
    for name, template in templates.items():
        if not isinstance(template, str):
            continue
        try:
            fields = [field for _, field, _, _ in string.Formatter().parse(template) if field is not None]
        except ValueError as exc:
            raise WindowError(f"input {name!r}: {exc} (write '{{{{' for a literal brace)") from None
        unknown = sorted({field for field in fields} - PLACEHOLDERS)
        if unknown:
            raise WindowError(f"input {name!r} uses {{{unknown[0]}}}; the placeholders are "
                              + ", ".join(f"{{{p}}}" for p in sorted(PLACEHOLDERS)))


def render(templates: dict[str, Any], window: Window) -> dict[str, Any]:
    """The run inputs of one window: each string template filled (see :func:`check_templates`)."""
    values = window.values()
    return {name: template.format_map(values) if isinstance(template, str) else template
            for name, template in templates.items()}
