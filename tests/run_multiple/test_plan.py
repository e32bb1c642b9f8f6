"""The batch plan: one run per entry or per window, inputs merged, keys stable."""

from __future__ import annotations

from datetime import date

import pytest

from run_multiple.config import parse_config
from run_multiple.plan import RangeOverride, plan_runs
from run_multiple.windows import Step, WindowError

CONFIG = {
    "workspaces": {"local": "ORCHESTRA_LOCAL_API_TOKEN"},
    "pipelines": [
        {"workspace": "local", "pipeline": "tpch_elt", "run_inputs": {"write_disposition": "merge"},
         "backfill": {"start": "2024-01-01", "end": "2024-06-30", "step": "1 month",
                      "inputs": {"orders_from": "{window_start}", "orders_to": "{window_end}"}}},
        {"workspace": "local", "pipeline": "other", "branch": "main", "run_inputs": {"x": 1}},
    ],
}


def test_a_backfill_is_one_run_per_window_oldest_first_with_the_entrys_inputs() -> None:
    runs = plan_runs(parse_config(CONFIG))
    assert len(runs) == 7
    backfill, single = runs[:6], runs[6]
    assert [run.run_inputs for run in backfill[:2]] == [
        {"write_disposition": "merge", "orders_from": "2024-01-01", "orders_to": "2024-01-31"},
        {"write_disposition": "merge", "orders_from": "2024-02-01", "orders_to": "2024-02-29"},
    ]
    assert backfill[-1].run_inputs["orders_to"] == "2024-06-30"
    assert (single.entry, single.pipeline, single.branch, single.window, single.run_inputs) == (1, "other", "main",
                                                                                                None, {"x": 1})
    assert len({run.key for run in runs}) == 7


def test_newest_first_reverses_each_entrys_windows() -> None:
    runs = plan_runs(parse_config(CONFIG), newest_first=True)
    assert [run.run_inputs["orders_from"] for run in runs[:6]][:2] == ["2024-06-01", "2024-05-01"]


def test_keys_identify_the_request_and_nothing_else() -> None:
    first = plan_runs(parse_config(CONFIG))
    again = plan_runs(parse_config(CONFIG), newest_first=True)
    assert sorted(run.key for run in first) == sorted(run.key for run in again)
    other_branch = {**CONFIG, "pipelines": [{**CONFIG["pipelines"][1], "branch": "dev"}]}
    assert plan_runs(parse_config(other_branch))[0].key != first[6].key


def test_a_command_line_range_applies_to_every_entry() -> None:
    override = RangeOverride(date(2024, 3, 1), date(2024, 3, 14), Step(1, "week"))
    runs = plan_runs(parse_config(CONFIG), override=override)
    assert [(run.entry, run.window.start.isoformat()) for run in runs] == [
        (0, "2024-03-01"), (0, "2024-03-08"), (1, "2024-03-01"), (1, "2024-03-08")]
    assert runs[0].run_inputs == {"write_disposition": "merge", "orders_from": "2024-03-01", "orders_to": "2024-03-07"}
    # an entry without templates gets start_date / end_date
    assert runs[3].run_inputs == {"x": 1, "start_date": "2024-03-08", "end_date": "2024-03-14"}
    assert runs[3].describe()["window"] == {"window_start": "2024-03-08", "window_end": "2024-03-14"}


def test_a_range_too_long_for_its_step_is_refused() -> None:
    config = parse_config({"workspaces": {"w": "T"}, "pipelines": [{"workspace": "w", "pipeline": "p", "backfill": {
        "start": "1900-01-01", "end": "2099-12-31", "step": "1 day"}}]})
    with pytest.raises(WindowError, match="use a longer step"):
        plan_runs(config)
