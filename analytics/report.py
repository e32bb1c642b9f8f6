"""Gather the report: every figure of ``metrics.py`` over one selection, plus one run's Gantt bars.

The terminal rendering is ``terminal.py``, the HTML one ``html.py``; both take a :class:`Report`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from analytics import metrics
from analytics.sources import MetadataSource, Selection, latest_run_id
from orchestra_local.viewer.gantt import GanttBar


@dataclass(frozen=True)
class Report:
    """Everything the report shows.

    Attributes:
        source: Where it was read (``store sqlite:///...`` or ``warehouse ...``).
        selection: The window and pipelines covered.
        totals: Rows loaded per table (``pipeline_runs``, ``task_runs``, ``operations``).
        pipelines, daily, slowest_tasks, flaky_tasks, rows_per_day, slowest_models: See ``metrics.py``.
        run: The run of the Gantt chart (id, pipeline_name, run_status), or None without runs.
        bars: Its task runs, in plan order.
    """

    source: str
    selection: Selection
    totals: dict[str, int]
    pipelines: metrics.Result
    daily: metrics.Result
    slowest_tasks: metrics.Result
    flaky_tasks: metrics.Result
    rows_per_day: metrics.Result
    slowest_models: metrics.Result
    run: dict[str, Any] | None
    bars: list[GanttBar]


def build_report(source: MetadataSource, selection: Selection, run_id: str | None = None) -> Report:
    """Load the selection from ``source`` into an in-memory DuckDB and compute every figure.

    Args:
        source: The store or the warehouse (``sources.open_source``).
        selection: Window and pipelines.
        run_id: The run to draw as a Gantt chart; default the latest run of the selection.

    Raises:
        SourceError: ``run_id`` is not a run of the source.
    """
    with duckdb.connect() as connection:
        connection.execute("set TimeZone = 'UTC'")
        source.load(connection, selection)
        chosen = run_id or latest_run_id(connection)
        run, bars = source.run_bars(chosen) if chosen else (None, [])
        return Report(
            source=source.description, selection=selection, totals=metrics.totals(connection),
            pipelines=metrics.pipeline_summary(connection, selection.now, selection.since),
            daily=metrics.daily_durations(connection), slowest_tasks=metrics.slowest_tasks(connection),
            flaky_tasks=metrics.flaky_tasks(connection), rows_per_day=metrics.rows_per_table_per_day(connection),
            slowest_models=metrics.slowest_dbt_models(connection), run=run, bars=bars,
        )
