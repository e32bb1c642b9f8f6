"""Fire times of an Orchestra schedule: six-field EventBridge cron, in a time zone, minus excluded dates.

Orchestra's cron (orchestra-contract section 5; AWS EventBridge's "cron expressions" reference):
``minutes hours day-of-month month day-of-week year``, one of the day fields ``?``, day-of-week 1-7
= SUN-SAT, ``L`` (last day of the month; in day-of-week ``nL``, the last n-day of the month), ``W``
(nearest weekday), ``#`` (n-th weekday of the month), and a year field. ``spec/cron.py`` validates
an expression; this module computes when it fires, with ``croniter``, after translating the dialect:

- ``?`` becomes ``*`` (croniter ORs two restricted day fields like Vixie cron; EventBridge never
  restricts both, one must be ``?``);
- day-of-week numbers shift down by one (EventBridge 1 = SUN, croniter 0 = SUN), in lists, ranges,
  steps and ``n#k``; ``nL`` becomes croniter's ``L(n-1)``; a bare ``L`` is the last day of the
  week, Saturday;
- the year becomes croniter's seventh field (after a seconds field fixed at 0).

Times are computed in the schedule's IANA time zone with its DST rules, by croniter in local wall
time: a daily time that does not exist on a spring-forward day fires at the jump (01:30 in London on
the day clocks go from 01:00 to 02:00 fires at 02:00 BST), so a daily run is not lost; a wall time
that exists twice on a fall-back day fires once, unless the hour field is ``*`` or a step (then
every real hour fires), as Vixie cron does. Returned as aware UTC datetimes.

``exclude`` entries are ISO dates (``2026-12-25``): a fire time whose local date is one of them does
not fire. Orchestra documents the field but not its format; ISO dates are our reading.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from orchestra_local.spec.cron import CronError, validate_cron

WEEKDAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
MAX_SEARCH_YEARS = 200
"""How far ahead a search for the next fire time goes before the schedule is reported as never firing."""


def _weekday(token: str) -> str:
    """One EventBridge day-of-week value (``2`` or ``MON``) as croniter's number (``1``)."""
    if token.isdigit():
        return str(int(token) - 1)
    return str(WEEKDAY_NAMES.index(token.upper()))


def _day_of_week(field: str) -> str:
    elements = []
    for element in field.split(","):
        if element in ("?", "*"):
            elements.append("*")
        elif element == "L":
            elements.append("6")  # the last day of the week: Saturday
        elif element.endswith("L"):
            elements.append(f"L{_weekday(element[:-1])}")
        elif "#" in element:
            day, nth = element.split("#")
            elements.append(f"{_weekday(day)}#{nth}")
        else:
            base, slash, step = element.partition("/")
            parts = "-".join(_weekday(part) if part != "*" else "*" for part in base.split("-"))
            elements.append(parts + (f"/{step}" if slash else ""))
    return ",".join(elements)


def to_croniter(expression: str) -> str:
    """The croniter (seven-field, seconds 0) expression of a valid EventBridge expression.

    Raises:
        CronError: The expression is invalid (Orchestra's message, from ``spec/cron.py``).
    """
    validate_cron(expression)
    minute, hour, day_of_month, month, day_of_week, year = expression.split()
    return " ".join((minute, hour, "*" if day_of_month == "?" else day_of_month, month.upper(),
                     _day_of_week(day_of_week), "0", year))


def parse_exclude(values: Sequence[str] | None) -> frozenset[date]:
    """The excluded dates of a schedule.

    Raises:
        ValueError: An entry is not an ISO date (``YYYY-MM-DD``); the message names it.
    """
    dates = set()
    for value in values or ():
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(value).strip()):
            raise ValueError(f"exclude entry {value!r} is not a date like 2026-12-25")
        dates.add(date.fromisoformat(str(value).strip()))
    return frozenset(dates)


class FireTimes:
    """When one schedule fires.

    Args:
        expression: The EventBridge cron expression as written.
        timezone: IANA name of the zone the expression is read in.
        exclude: Local dates on which nothing fires.

    Raises:
        CronError: The expression is invalid.
        ValueError: The zone is unknown.
    """

    def __init__(self, expression: str, timezone: str = "UTC", exclude: frozenset[date] = frozenset()):
        self.expression, self.timezone, self.exclude = expression, timezone, exclude
        self._croniter = to_croniter(expression)
        # An hour field with * or a step fires by the clock's hours, so in the hour a fall-back repeats
        # it fires again; fixed hours fire once, on the first occurrence of their wall time (Vixie cron).
        hour_field = expression.split()[1]
        self._hourly = "*" in hour_field or "/" in hour_field
        try:
            self._zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {timezone!r} (an IANA name such as Europe/London)") from None

    @classmethod
    def of(cls, expression: str, timezone: str | None = None, exclude: Sequence[str] | None = None) -> FireTimes:
        """From a ``schedule`` entry's ``cron``, ``timezone`` and ``exclude`` fields (see the class for errors)."""
        return cls(expression, timezone or "UTC", parse_exclude(exclude))

    def after(self, moment: datetime) -> Iterator[datetime]:
        """Fire times strictly after ``moment`` (aware), ascending, as aware UTC datetimes.

        The iterator ends when no fire time is left within :data:`MAX_SEARCH_YEARS` (a year field
        in the past, say).
        """
        from croniter import croniter  # here: validating or running a pipeline computes no fire times

        if moment.tzinfo is None:
            raise ValueError("fire times are computed from an aware datetime")
        iterator = croniter(self._croniter, moment.astimezone(self._zone))
        horizon = moment + timedelta(days=366 * MAX_SEARCH_YEARS)
        while True:
            try:
                fire: datetime = iterator.get_next(datetime)
            except (CronError, StopIteration, ValueError, OverflowError):
                return  # croniter found nothing more (a past year field)
            if fire > horizon:
                return
            # the second occurrence of a wall time a fall-back repeats (fold 1, another UTC offset)
            repeated = fire.fold == 1 and fire.utcoffset() != fire.replace(fold=0).utcoffset() and not self._hourly
            if repeated or fire.astimezone(UTC) <= moment or fire.date() in self.exclude:
                continue
            yield fire.astimezone(UTC)

    def next(self, moment: datetime) -> datetime | None:
        """The first fire time after ``moment``, or None when it never fires again."""
        return next(self.after(moment), None)

    def between(self, start: datetime, end: datetime) -> list[datetime]:
        """Fire times in ``(start, end]`` (aware), ascending, as aware UTC datetimes."""
        return self.between_and_next(start, end)[0]

    def between_and_next(self, start: datetime, end: datetime) -> tuple[list[datetime], datetime | None]:
        """Fire times in ``(start, end]``, and the first one after ``end`` (None: it never fires again)."""
        times = []
        for fire in self.after(start):
            if fire > end:
                return times, fire
            times.append(fire)
        return times, None

    @property
    def key(self) -> tuple[str, str, frozenset[date]]:
        """What the fire times depend on: equal keys, equal fire times."""
        return self.expression, self.timezone, self.exclude


class DueTimes:
    """Fire times due per trigger and pass, computed only when one can be due.

    Building a croniter iterator costs about 0.8 ms (the expression is expanded each time), which
    made most of an idle pass over 200 schedules. A pass now remembers each trigger's next fire time
    and skips the computation until then (or until its cron, time zone or excluded dates change).
    """

    def __init__(self) -> None:
        self._next: dict[object, tuple[tuple[str, str, frozenset[date]], datetime, datetime | None]] = {}

    def between(self, trigger: object, fire_times: FireTimes, start: datetime, end: datetime) -> list[datetime]:
        """``fire_times.between(start, end)`` for ``trigger`` (any hashable key), from the memo when it can."""
        memo = self._next.get(trigger)
        if memo is not None:
            key, until, upcoming = memo
            if key == fire_times.key and start >= until and (upcoming is None or upcoming > end):
                return []
        times, upcoming = fire_times.between_and_next(start, end)
        self._next[trigger] = (fire_times.key, end, upcoming)
        return times
