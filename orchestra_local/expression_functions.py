"""The functions ``${{ ... }}`` expressions may call (``docs/orchestra-contract.md`` section 2).

``format_date(date, fmt[, tz])``, ``add_days(date, n)``, ``add_months(date, n)``, ``len``, ``int``,
``str``. Dates are ``date``/``datetime`` values or ISO 8601 strings; a function returns the same
kind it was given (an ISO string in, an ISO string out).

A function raises what Python raises for a bad argument (``ValueError`` for a malformed date,
``OverflowError`` past the year 9999, ``ZoneInfoNotFoundError`` for an unknown zone);
:func:`orchestra_local.expressions.evaluate` turns any of them into a located ``ExpressionError``.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    raise TypeError(f"expected a date or an ISO 8601 string, got {type(value).__name__}")


def _same_kind(original: Any, result: datetime) -> Any:
    if isinstance(original, str):
        is_date_only = len(original.strip()) == 10
        return result.date().isoformat() if is_date_only else result.isoformat()
    if isinstance(original, date) and not isinstance(original, datetime):
        return result.date()
    return result


def format_date(value: Any, fmt: str, tz: str | None = None) -> str:
    """``format_date(date, fmt[, tz])``: strftime ``fmt`` of a date or ISO string, in zone ``tz``."""
    moment = _as_datetime(value)
    if tz:
        moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(ZoneInfo(tz))
    return moment.strftime(fmt)


def add_days(value: Any, days: int) -> Any:
    """``add_days(date, n)``: the date ``n`` days later (same kind as the input)."""
    return _same_kind(value, _as_datetime(value) + timedelta(days=int(days)))


def add_months(value: Any, months: int) -> Any:
    """``add_months(date, n)``: ``n`` calendar months later, the day clamped to the month's end."""
    moment = _as_datetime(value)
    index = moment.month - 1 + int(months)
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return _same_kind(value, moment.replace(year=year, month=month, day=day))


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "format_date": format_date,
    "add_days": add_days,
    "add_months": add_months,
    "len": len,
    "int": int,
    "str": str,
}
