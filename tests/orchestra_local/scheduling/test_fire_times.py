"""Fire times of EventBridge cron expressions from Orchestra's docs, on fixed clocks, across DST and exclusions.

Expected times are written out by hand (calendar facts: 2026-12-04 is a Friday; Europe/London
switches to BST at 01:00 UTC on 2027-03-28 and back at 01:00 UTC on 2027-10-31).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice

import pytest

from orchestra_local.scheduling.fire_times import DueTimes, FireTimes, parse_exclude, to_croniter
from orchestra_local.spec.cron import CronError

FRIDAY = datetime(2026, 12, 4, 9, 7, tzinfo=UTC)


def _utc(*values: int) -> datetime:
    return datetime(*values, tzinfo=UTC)


def _ten(expression: str, start: datetime, timezone: str = "UTC") -> list[datetime]:
    return list(islice(FireTimes.of(expression, timezone).after(start), 10))


def test_weekdays_at_eight() -> None:
    days = [(12, 7), (12, 8), (12, 9), (12, 10), (12, 11), (12, 14), (12, 15), (12, 16), (12, 17), (12, 18)]
    assert _ten("0 8 ? * MON-FRI *", FRIDAY) == [_utc(2026, month, day, 8) for month, day in days]
    assert _ten("0 8 ? * 2-6 *", FRIDAY) == _ten("0 8 ? * MON-FRI *", FRIDAY)  # 1 = SUN, so 2-6 = MON-FRI


def test_every_quarter_hour() -> None:
    expected = [_utc(2026, 12, 4, 9 + minutes // 60, minutes % 60) for minutes in range(15, 165, 15)]
    assert _ten("0/15 * ? * * *", FRIDAY) == expected


def test_last_day_of_the_month() -> None:
    ends = [(2026, 12, 31), (2027, 1, 31), (2027, 2, 28), (2027, 3, 31), (2027, 4, 30), (2027, 5, 31),
            (2027, 6, 30), (2027, 7, 31), (2027, 8, 31), (2027, 9, 30)]
    assert _ten("0 0 L * ? *", FRIDAY) == [_utc(*day) for day in ends]


def test_first_monday_of_the_month() -> None:
    mondays = [(2026, 12, 7), (2027, 1, 4), (2027, 2, 1), (2027, 3, 1), (2027, 4, 5), (2027, 5, 3), (2027, 6, 7),
               (2027, 7, 5), (2027, 8, 2), (2027, 9, 6)]  # 2026-12-01 is a Tuesday
    assert _ten("0 9 ? * 2#1 *", FRIDAY) == [_utc(*day, 9) for day in mondays]
    assert _ten("0 9 ? * MON#1 *", FRIDAY) == _ten("0 9 ? * 2#1 *", FRIDAY)


def test_last_friday_and_saturday_and_nearest_weekday() -> None:
    assert _ten("0 9 ? * 6L *", FRIDAY)[:3] == [_utc(2026, 12, 25, 9), _utc(2027, 1, 29, 9), _utc(2027, 2, 26, 9)]
    assert _ten("0 9 ? * L *", FRIDAY)[:2] == [_utc(2026, 12, 5, 9), _utc(2026, 12, 12, 9)]  # L: Saturday
    # 15W: the weekday nearest the 15th; 2027-05-15 is a Saturday (Friday the 14th), 2027-08-15 a Sunday.
    times = list(islice(FireTimes.of("0 8 15W * ? *").after(_utc(2027, 5, 1)), 4))
    assert times == [_utc(2027, 5, 14, 8), _utc(2027, 6, 15, 8), _utc(2027, 7, 15, 8), _utc(2027, 8, 16, 8)]


def test_the_year_field() -> None:
    assert _ten("0 8 1 1 ? 2027-2028", FRIDAY) == [_utc(2027, 1, 1, 8), _utc(2028, 1, 1, 8)]
    assert FireTimes.of("0 8 1 1 ? 2020").next(FRIDAY) is None


def test_local_time_across_both_dst_changes_in_london() -> None:
    spring = _ten("0 8 ? * * *", _utc(2027, 3, 26), "Europe/London")[:4]
    assert spring == [_utc(2027, 3, 26, 8), _utc(2027, 3, 27, 8), _utc(2027, 3, 28, 7), _utc(2027, 3, 29, 7)]
    autumn = _ten("0 8 ? * * *", _utc(2027, 10, 29, 12), "Europe/London")[:3]
    assert autumn == [_utc(2027, 10, 30, 7), _utc(2027, 10, 31, 8), _utc(2027, 11, 1, 8)]
    hourly = _ten("0 * ? * * *", _utc(2027, 10, 30, 23, 30), "Europe/London")[:4]
    assert hourly == [_utc(2027, 10, 31, hour) for hour in range(0, 4)]  # the repeated hour fires once an hour


def test_a_wall_time_that_does_not_exist_fires_when_the_clock_jumps_and_a_repeated_one_fires_once() -> None:
    spring = _ten("30 1 ? * * *", _utc(2027, 3, 26, 12), "Europe/London")[:3]
    # 01:30 does not exist on 2027-03-28 (01:00 GMT -> 02:00 BST): the run starts at the jump, 01:00 UTC
    assert spring == [_utc(2027, 3, 27, 1, 30), _utc(2027, 3, 28, 1), _utc(2027, 3, 29, 0, 30)]
    autumn = _ten("30 1 ? * * *", _utc(2027, 10, 30, 12), "Europe/London")[:2]
    assert autumn == [_utc(2027, 10, 31, 0, 30), _utc(2027, 11, 1, 1, 30)]
    between = _ten("30 1 ? * * *", _utc(2027, 10, 31, 1), "Europe/London")[0]  # after the first 01:30 (BST)
    assert between == _utc(2027, 11, 1, 1, 30)  # a restart between the two does not fire it again


def test_excluded_dates_do_not_fire() -> None:
    times = FireTimes.of("0 8 ? * * *", "UTC", ["2026-12-25", "2026-12-26"]).between(_utc(2026, 12, 24), _utc(2026, 12, 28))
    assert times == [_utc(2026, 12, 24, 8), _utc(2026, 12, 27, 8)]
    london = FireTimes.of("30 23 ? * * *", "Europe/London", ["2027-07-01"])  # 23:30 BST is 22:30 UTC
    assert london.between(_utc(2027, 6, 30), _utc(2027, 7, 3)) == [_utc(2027, 6, 30, 22, 30), _utc(2027, 7, 2, 22, 30)]


def test_between_is_start_exclusive_end_inclusive() -> None:
    times = FireTimes.of("0/15 * ? * * *").between(_utc(2026, 12, 4, 9), _utc(2026, 12, 4, 10))
    assert times == [_utc(2026, 12, 4, 9, 15), _utc(2026, 12, 4, 9, 30), _utc(2026, 12, 4, 9, 45), _utc(2026, 12, 4, 10)]


def test_bad_input() -> None:
    with pytest.raises(CronError, match="Invalid hour value"):
        FireTimes.of("0 25 ? * * *")
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        FireTimes.of("0 8 ? * * *", "Mars/Olympus")
    with pytest.raises(ValueError, match="'25/12/2026' is not a date"):
        parse_exclude(["25/12/2026"])
    with pytest.raises(ValueError, match="aware"):
        FireTimes.of("0 8 ? * * *").next(datetime(2026, 1, 1))  # noqa: DTZ001 - the error under test
    assert to_croniter("0 9 ? * 2#1,6L *") == "0 9 * * 1#1,L5 0 *"


def test_the_memo_of_due_times_answers_as_between_pass_after_pass() -> None:
    due = DueTimes()
    every_minute, every_5 = FireTimes.of("0/1 * ? * * *"), FireTimes.of("0/5 * ? * * *")
    start = datetime(2026, 12, 7, 10, 0, 0, 500_000, tzinfo=UTC)
    passes = [start + timedelta(seconds=7 * k) for k in range(60)]  # 7 minutes of passes, 7 s apart
    found, expected = [], []
    for index, (previous, now) in enumerate(zip(passes, passes[1:], strict=False)):
        fire_times = every_minute if index < 30 else every_5  # the cron is edited half-way
        found += due.between("p", fire_times, previous, now)
        expected += fire_times.between(previous, now)
    assert found == expected and len(expected) == 4  # 10:01, 10:02, 10:03 every minute; then 10:05 every 5
