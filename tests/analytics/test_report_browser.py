"""The HTML report in headless Chromium: opens offline with no console errors; the Gantt shows every task run."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from analytics.html_report import write_html
from analytics.report import build_report
from analytics.sources import Selection, StoreSource
from tests.browser_checks import collect_errors, gantt_bars_in_screenshot

SECTIONS = ("pipelines", "trend", "slowest-tasks", "flaky-tasks", "rows", "slowest-models", "gantt")


def _open_offline(browser, path: Path):
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors = collect_errors(page)
    page.route("http*://**", lambda route: route.abort())  # nothing may come from the network
    page.goto(path.as_uri())
    return page, errors


def test_the_report_opens_offline_without_console_errors(history, browser, tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    write_html(build_report(StoreSource(history.url), Selection(since=timedelta(days=30))), path)
    page, errors = _open_offline(browser, path)
    for section in SECTIONS:
        page.locator(f"#{section}.js-plotly-plot .main-svg").first.wait_for()  # plotly drew it
    assert errors == []


def test_the_gantt_draws_every_task_run_of_the_chosen_run_as_a_bar(history, browser, tmp_path: Path) -> None:
    with sqlite3.connect(history.url.removeprefix("sqlite:///")) as connection:
        (run_id,) = connection.execute("select id from pipeline_runs where run_status = 'FAILED' limit 1").fetchone()
        expected = dict(connection.execute(
            "select case when run_parameters is not null and run_parameters != 'null' "
            "then group_id || '.' || task_id || '[' || json_extract(run_parameters, '$.matrix.table') || ']' "
            "else group_id || '.' || task_id end, status from task_runs where pipeline_run_id = ? and not matrix_parent",
            [run_id]).fetchall())
    assert set(expected.values()) >= {"FAILED", "SKIPPED"}  # a failed ingestion, the skipped dbt task
    path = tmp_path / "run.html"
    write_html(build_report(StoreSource(history.url), Selection(since=timedelta(days=30)), run_id), path)
    page, errors = _open_offline(browser, path)
    page.locator("#section-gantt").scroll_into_view_if_needed()
    assert gantt_bars_in_screenshot(page) == expected
    assert errors == []
