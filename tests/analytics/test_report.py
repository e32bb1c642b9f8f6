"""``python -m analytics report`` over a generated history: every figure checked against what was written."""

from __future__ import annotations

import sqlite3
import statistics
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from analytics.__main__ import main
from analytics.metrics import TOP
from analytics.report import build_report
from analytics.sample_history import MODELS, PIPELINES, TABLES
from analytics.sources import Selection, SourceError, StoreSource


def _database(url: str) -> str:
    return url.removeprefix("sqlite:///")


def test_the_report_counts_what_the_history_holds(history) -> None:
    report = build_report(StoreSource(history.url), Selection(since=timedelta(days=30)))
    tally = history.tally
    assert report.totals["pipeline_runs"] == 90
    by_pipeline = {row[0]: row for row in report.pipelines.rows}
    assert set(by_pipeline) == set(PIPELINES)
    for pipeline in PIPELINES:
        succeeded, failed = tally.runs[(pipeline, "SUCCEEDED")], tally.runs[(pipeline, "FAILED")]
        assert by_pipeline[pipeline][1:5] == (succeeded + failed, succeeded, failed,
                                              round(100 * succeeded / (succeeded + failed), 1))
    flaky = Counter({(row[0], row[1]): row[3] for row in report.flaky_tasks.rows})
    assert tally.flaky, "the seed gives flaky task runs"
    assert len(flaky) == min(len(tally.flaky), TOP) and all(tally.flaky[key] == count for key, count in flaky.items())
    loaded: Counter[str] = Counter()
    for _day, table, _loads, rows in report.rows_per_day.rows:
        loaded[table] += rows
    assert loaded == tally.rows
    assert {row[0] for row in report.slowest_models.rows} == set(MODELS)
    assert report.run is not None and report.run["id"] == tally.run_ids[-1]  # default: the latest run
    assert len(report.bars) == len(TABLES) + 1  # the matrix iterations and the dbt task, not the matrix parent


def test_durations_are_the_quantiles_of_the_stored_durations(history) -> None:
    report = build_report(StoreSource(history.url), Selection(since=timedelta(days=30)))
    with sqlite3.connect(_database(history.url)) as connection:
        durations = [row[0] for row in connection.execute(
            "select operation_duration from operations where operation_name = 'fct_orders'")]
    row = next(row for row in report.slowest_models.rows if row[0] == "fct_orders")
    assert row[1] == len(durations)
    assert row[2] == round(statistics.median(durations), 2)
    assert row[3] == round(statistics.quantiles(durations, n=20, method="inclusive")[-1], 2)  # p95, interpolated
    assert row[4] == round(max(durations), 2)


def test_pipeline_and_since_narrow_the_selection(history) -> None:
    pipeline = PIPELINES[1]
    report = build_report(StoreSource(history.url), Selection(since=timedelta(days=5), pipelines=(pipeline,)))
    with sqlite3.connect(_database(history.url)) as connection:
        (expected,) = connection.execute(
            "select count(*) from pipeline_runs where pipeline_name = ? and created_at >= ?",
            [pipeline, (report.selection.start.replace(tzinfo=None)).isoformat(sep=" ")]).fetchone()
    assert 0 < expected < 30
    assert [row[0] for row in report.pipelines.rows] == [pipeline]
    assert report.totals["pipeline_runs"] == report.pipelines.rows[0][1] == expected
    assert {row[0] for row in report.slowest_tasks.rows} == {pipeline}


def test_the_command_prints_the_tables_and_writes_the_html(history, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out" / "report.html"
    assert main(["report", "--metadata-url", history.url, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for title in ("Success rate and duration per pipeline", "Slowest tasks", "Flaky tasks", "Rows loaded per table",
                  "Slowest dbt models"):
        assert title in printed
    assert "ingest.ingest_table[orders]" in printed  # brackets are not taken for rich markup
    assert "raw.lineitem" in printed and f"wrote {out}" in printed
    html = out.read_text()
    assert html.count('class="plotly-graph-div"') == 7 and "<script src" not in html  # plotly.js is inline


def test_bad_input_says_what_to_do(history, tmp_path: Path, capsys) -> None:
    assert main(["report", "--metadata-url", f"sqlite:///{tmp_path / 'none.db'}"]) == 1
    assert "no metadata store" in capsys.readouterr().out
    assert main(["report", "--metadata-url", history.url, "--run", "not-a-run"]) == 1
    assert "no pipeline run not-a-run" in capsys.readouterr().out
    assert main(["report", "--source", "warehouse", "--warehouse", str(tmp_path / "nowhere.duckdb")]) == 1
    assert "metadata_api/orchestra_metadata_pipeline.py" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exited:
        main(["report", "--since", "soon"])
    assert exited.value.code == 2
    with pytest.raises(SourceError):
        StoreSource(f"sqlite:///{tmp_path / 'missing.db'}")


def test_a_store_without_runs_tables_is_an_error_and_is_left_untouched(tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    assert main(["report", "--metadata-url", f"sqlite:///{empty}"]) == 1
    assert "holds no pipeline runs table" in capsys.readouterr().out
    with sqlite3.connect(empty) as connection:  # the report never migrates a store
        assert connection.execute("select count(*) from sqlite_master").fetchone() == (0,)
