"""Backfill windows: steps, inclusive windows clipped to the range, placeholders."""

from __future__ import annotations

import itertools
from datetime import date

import pytest

from run_multiple.windows import MAX_WINDOWS, Step, Window, WindowError, check_templates, expand, render


@pytest.mark.parametrize(("text", "step"), [
    ("1 day", Step(1, "day")), ("7 Days", Step(7, "day")), ("1 week", Step(1, "week")),
    (" 2 weeks ", Step(2, "week")), ("1 month", Step(1, "month")), ("3months", Step(3, "month")),
])
def test_steps_parse(text: str, step: Step) -> None:
    assert Step.parse(text) == step


@pytest.mark.parametrize("text", ["", "0 days", "1 year", "day", "1.5 days", "-1 day", "1 day 2"])
def test_other_steps_are_refused_with_examples(text: str) -> None:
    with pytest.raises(WindowError, match="write e.g. '1 day', '1 week' or '1 month'"):
        Step.parse(text)


def test_monthly_windows_are_calendar_months_and_inclusive() -> None:
    windows = expand(date(2024, 1, 1), date(2024, 3, 31), Step(1, "month"))
    assert windows == [Window(date(2024, 1, 1), date(2024, 1, 31)), Window(date(2024, 2, 1), date(2024, 2, 29)),
                       Window(date(2024, 3, 1), date(2024, 3, 31))]


def test_the_last_window_is_clipped_and_windows_cover_the_range_once() -> None:
    windows = expand(date(2024, 1, 3), date(2024, 1, 20), Step(1, "week"))
    assert windows[-1] == Window(date(2024, 1, 17), date(2024, 1, 20))
    days = [w.start.toordinal() + i for w in windows for i in range((w.end - w.start).days + 1)]
    assert days == list(range(date(2024, 1, 3).toordinal(), date(2024, 1, 20).toordinal() + 1))


def test_month_steps_from_a_31st_stay_contiguous() -> None:
    windows = expand(date(2024, 1, 31), date(2024, 4, 30), Step(1, "month"))
    assert [w.start for w in windows] == [date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30)]
    assert all(later.start.toordinal() == earlier.end.toordinal() + 1 for earlier, later in itertools.pairwise(windows))


def test_one_day_range_and_newest_first() -> None:
    assert expand(date(2024, 5, 5), date(2024, 5, 5), Step(1, "day")) == [Window(date(2024, 5, 5), date(2024, 5, 5))]
    days = expand(date(2024, 5, 1), date(2024, 5, 3), Step(1, "day"), newest_first=True)
    assert [w.start.day for w in days] == [3, 2, 1]


def test_bad_ranges_are_refused() -> None:
    with pytest.raises(WindowError, match="ends .* before it starts"):
        expand(date(2024, 2, 1), date(2024, 1, 1), Step(1, "day"))
    with pytest.raises(WindowError, match=f"more than {MAX_WINDOWS:,} windows"):
        expand(date(1900, 1, 1), date(2100, 1, 1), Step(1, "day"))


def test_templates_fill_the_window_and_keep_other_values() -> None:
    inputs = render({"from": "{window_start}", "to": "{window_end}T23:59:59", "literal": "{{x}}", "n": 3},
                    Window(date(2024, 1, 1), date(2024, 1, 31)))
    assert inputs == {"from": "2024-01-01", "to": "2024-01-31T23:59:59", "literal": "{x}", "n": 3}


@pytest.mark.parametrize(("template", "message"), [
    ("{start}", r"input 't' uses \{start\}; the placeholders are \{window_end\}, \{window_start\}"),
    ("{}", r"input 't' uses \{\}"),
    ("{window_start.year}", r"uses \{window_start.year\}"),
    ("{window_start", "write '{{' for a literal brace"),
])
def test_unknown_placeholders_are_refused(template: str, message: str) -> None:
    with pytest.raises(WindowError, match=message):
        check_templates({"t": template})
