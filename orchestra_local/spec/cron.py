"""Six-field AWS EventBridge cron expressions, as Orchestra schedules and sensors use them.

Format (orchestra-contract section 5; AWS EventBridge "cron expressions" reference):
``minutes hours day-of-month month day-of-week year``, e.g. ``0 8 ? * MON-FRI *``.
Minutes 0-59, hours 0-23, day-of-month 1-31 (``? L W``; not ``LW`` or ``L-n``, which Orchestra rejects), month 1-12 or JAN-DEC, day-of-week
1-7 (1 = SUN) or SUN-SAT (``? L #``), year 1970-2199; ``, - * /`` in every field. One of
day-of-month and day-of-week must be ``?``. Errors use Orchestra's wording ("Invalid minute value").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MONTHS = {name: i for i, name in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1)}
WEEKDAYS = {name: i for i, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1)}


@dataclass(frozen=True)
class _Field:
    label: str
    low: int
    high: int
    names: dict[str, int]


FIELDS = (
    _Field("minute", 0, 59, {}),
    _Field("hour", 0, 23, {}),
    _Field("day-of-month", 1, 31, {}),
    _Field("month", 1, 12, MONTHS),
    _Field("day-of-week", 1, 7, WEEKDAYS),
    _Field("year", 1970, 2199, {}),
)
DAY_OF_MONTH, DAY_OF_WEEK = 2, 4


class CronError(ValueError):
    """An invalid cron expression; the message is Orchestra's (e.g. ``Invalid hour value``)."""


def _number(token: str, spec: _Field) -> int | None:
    value = spec.names.get(token.upper()) if not token.isdigit() else int(token)
    if value is None or not spec.low <= value <= spec.high:
        return None
    return value


def _valid_range(token: str, spec: _Field) -> bool:
    if token == "*":
        return True
    low, sep, high = token.partition("-")
    first = _number(low, spec)
    if not sep:
        return first is not None
    last = _number(high, spec)
    return first is not None and last is not None


def _valid_element(element: str, index: int, spec: _Field) -> bool:
    if index == DAY_OF_MONTH:
        if element == "L":
            return True
        if element.endswith("W") and element[:-1].isdigit():
            return _number(element[:-1], spec) is not None
    if index == DAY_OF_WEEK:
        if re.fullmatch(r"[1-7]#[1-5]", element) or re.fullmatch(r"(SUN|MON|TUE|WED|THU|FRI|SAT)#[1-5]", element, re.I):
            return True
        if element == "L" or (element.endswith("L") and _number(element[:-1], spec) is not None):
            return True
    base, slash, step = element.partition("/")
    if slash and not (step.isdigit() and int(step) > 0):
        return False
    return _valid_range(base, spec)


def validate_cron(expression: str) -> None:
    """Check an EventBridge cron expression.

    Raises:
        CronError: With Orchestra's message: ``Invalid <field> value`` for a bad field, or a message
            on the field count or the ``?`` rule.
    """
    parts = expression.split()
    if len(parts) != len(FIELDS):
        raise CronError(
            f"Cron expression must have 6 fields (minutes hours day-of-month month day-of-week year), got {len(parts)}"
        )
    for index, (part, spec) in enumerate(zip(parts, FIELDS, strict=True)):
        if part == "?":
            if index in (DAY_OF_MONTH, DAY_OF_WEEK):
                continue
            raise CronError(f"Invalid {spec.label} value '?' ('?' is allowed only in day-of-month and day-of-week)")
        if not all(_valid_element(element, index, spec) for element in part.split(",")):
            names = f" or {next(iter(spec.names))}-{list(spec.names)[-1]}" if spec.names else ""
            raise CronError(f"Invalid {spec.label} value '{part}' (allowed {spec.low}-{spec.high}{names}, with , - * /)")
    if (parts[DAY_OF_MONTH] == "?") == (parts[DAY_OF_WEEK] == "?"):
        raise CronError("One of day-of-month and day-of-week must be '?' (and only one)")
