"""The report as ``rich`` tables on the terminal."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from analytics.metrics import Result
from analytics.report import Report

PIVOT_DAYS = 7
"""Days (the latest ones with loads) shown as columns of the rows-per-table table."""


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return escape(str(value))  # task labels hold brackets: ingest.ingest_table[orders]


def result_table(result: Result) -> Table:
    """One :class:`Result` as a table; numbers right-aligned, nulls as ``-``."""
    table = Table(title=result.title, title_justify="left", title_style="bold")
    numeric = [bool(result.rows) and all(isinstance(row[i], (int, float)) or row[i] is None for row in result.rows)
               for i in range(len(result.columns))]
    for column, right in zip(result.columns, numeric, strict=True):
        table.add_column(escape(column), justify="right" if right else "left")
    for row in result.rows:
        table.add_row(*(_cell(value) for value in row))
    if not result.rows:
        table.caption = "nothing in this selection"
    return table


def rows_pivot(result: Result) -> Table:
    """Rows loaded: one row per table, one column per day (the latest :data:`PIVOT_DAYS`), and the total."""
    per_table: dict[str, dict[Any, int]] = defaultdict(dict)
    for day, name, _loads, rows in result.rows:
        per_table[name][day] = rows
    days = sorted({row[0] for row in result.rows})[-PIVOT_DAYS:]
    table = Table(title=f"{result.title} (last {len(days)} days with loads)", title_justify="left", title_style="bold")
    table.add_column("table")
    for day in days:
        table.add_column(day.strftime("%m-%d"), justify="right")
    table.add_column("total", justify="right")
    for name in sorted(per_table):
        table.add_row(escape(name), *(_cell(per_table[name].get(day)) for day in days), _cell(sum(per_table[name].values())))
    if not result.rows:
        table.caption = "no ingestion operations in this selection"
    return table


def print_report(report: Report, console: Console) -> None:
    """Print every table of the report, headed by what was read."""
    selection = report.selection
    scope = ", ".join(selection.pipelines) or "all pipelines"
    console.print(f"[bold]Run metadata report[/]: {report.source}; runs created since "
                  f"{selection.start:%Y-%m-%d %H:%M} UTC ({scope}); "
                  + ", ".join(f"{count:,} {table.replace('_', ' ')}" for table, count in report.totals.items()),
                  highlight=False)
    for result in (report.pipelines, report.slowest_tasks, report.flaky_tasks):
        console.print(result_table(result))
    console.print(rows_pivot(report.rows_per_day))
    console.print(result_table(report.slowest_models))
