"""The report's figures, as SQL over the three tables ``sources.py`` loads into DuckDB.

Each function returns a :class:`Result` (title, column names, rows). Durations are in seconds
(``completed_at - started_at``; runs and task runs that have not both are left out of durations).
A run succeeded when its status is SUCCEEDED or WARNING and failed when FAILED or CANCELLED; the
success rate is succeeded / (succeeded + failed), so runs still going do not count against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb

TOP = 10
"""Rows of the "slowest" and "flaky" tables."""
RECENT = timedelta(days=7)
"""The trend compares the p50 of runs created in the last ``RECENT`` (at most half the window) with the p50 before."""



def _seconds(alias: str = "") -> str:
    """SQL for a record's duration in seconds (``alias``: the table's alias, e.g. ``t.``)."""
    return f"date_diff('millisecond', {alias}started_at, {alias}completed_at) / 1000.0"


SECONDS = _seconds()
OK = "('SUCCEEDED', 'WARNING')"


@dataclass(frozen=True)
class Result:
    """One figure's data.

    Attributes:
        title: What it shows, e.g. "Success rate and duration per pipeline".
        columns: Column names, units in brackets (``p50 [s]``).
        rows: One tuple per row, values in column order.
    """

    title: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def _result(connection: duckdb.DuckDBPyConnection, title: str, sql: str, parameters: list[Any] | None = None) -> Result:
    cursor = connection.execute(sql, parameters or [])
    columns = tuple(description[0] for description in cursor.description)
    return Result(title, columns, cursor.fetchall())


def pipeline_summary(connection: duckdb.DuckDBPyConnection, now: datetime, since: timedelta) -> Result:
    """Per pipeline: runs, succeeded, failed, success rate [%], p50/p95 duration [s], and the p50 trend [%].

    The trend is the change of the p50 of recent runs (the last :data:`RECENT`, at most half of
    ``since``) against the p50 of the runs before them; null without runs on both sides.
    """
    recent_start = (now - min(RECENT, since / 2)).replace(tzinfo=None)
    return _result(connection, "Success rate and duration per pipeline", f"""
        with runs as (select *, {SECONDS} as seconds from pipeline_runs),
        summary as (
            select pipeline_name,
                   count(*) as runs,
                   count(*) filter (where run_status in {OK}) as succeeded,
                   count(*) filter (where run_status in ('FAILED', 'CANCELLED')) as failed,
                   quantile_cont(seconds, 0.5) as p50,
                   quantile_cont(seconds, 0.95) as p95,
                   quantile_cont(seconds, 0.5) filter (where created_at >= ?) as p50_recent,
                   quantile_cont(seconds, 0.5) filter (where created_at < ?) as p50_before
            from runs group by pipeline_name)
        select pipeline_name as "pipeline", runs, succeeded, failed,
               round(100.0 * succeeded / nullif(succeeded + failed, 0), 1) as "success [%]",
               round(p50, 2) as "p50 [s]", round(p95, 2) as "p95 [s]",
               round(100.0 * (p50_recent / nullif(p50_before, 0) - 1), 1) as "p50 trend [%]"
        from summary order by pipeline_name""", [recent_start, recent_start])


def daily_durations(connection: duckdb.DuckDBPyConnection) -> Result:
    """Per pipeline and day (UTC) of creation: runs, p50 and p95 duration [s] (the trend chart)."""
    return _result(connection, "Run duration per day", f"""
        select pipeline_name as "pipeline", created_at::date as "day", count(*) as runs,
               round(quantile_cont({SECONDS}, 0.5), 2) as "p50 [s]",
               round(quantile_cont({SECONDS}, 0.95), 2) as "p95 [s]"
        from pipeline_runs where completed_at is not null and started_at is not null
        group by all order by 1, 2""")


def slowest_tasks(connection: duckdb.DuckDBPyConnection) -> Result:
    """The :data:`TOP` tasks (matrix iterations apart) with the highest p95 duration [s]."""
    task_seconds = _seconds("t.")
    return _result(connection, "Slowest tasks", f"""
        select r.pipeline_name as "pipeline", t.label as "task", count(*) as runs,
               round(quantile_cont({task_seconds}, 0.5), 2) as "p50 [s]",
               round(quantile_cont({task_seconds}, 0.95), 2) as "p95 [s]",
               round(max({task_seconds}), 2) as "max [s]"
        from task_runs t join pipeline_runs r on r.id = t.pipeline_run_id
        where not t.matrix_parent and t.started_at is not null and t.completed_at is not null
        group by all order by "p95 [s]" desc, "task" limit {TOP}""")


def flaky_tasks(connection: duckdb.DuckDBPyConnection) -> Result:
    """Tasks that succeeded only after retries (``number_of_attempts`` > 1), most often first."""
    return _result(connection, "Flaky tasks (succeeded after retries)", f"""
        select r.pipeline_name as "pipeline", t.label as "task", count(*) as runs,
               count(*) filter (where t.status in {OK} and t.number_of_attempts > 1) as "succeeded after retry",
               round(100.0 * "succeeded after retry" / count(*), 1) as "flaky [%]",
               max(t.number_of_attempts) as "max attempts"
        from task_runs t join pipeline_runs r on r.id = t.pipeline_run_id
        where not t.matrix_parent
        group by all having "succeeded after retry" > 0
        order by "succeeded after retry" desc, "task" limit {TOP}""")


def rows_per_table_per_day(connection: duckdb.DuckDBPyConnection) -> Result:
    """Rows loaded per table (INGESTION operations' ``rows_affected``) per day (UTC)."""
    return _result(connection, "Rows loaded per table per day", """
        select coalesce(completed_at, inserted_at)::date as "day", operation_name as "table",
               count(*) as loads, sum(rows_affected) as "rows"
        from operations where operation_type = 'INGESTION' and rows_affected is not null
        group by all order by 1, 2""")


def slowest_dbt_models(connection: duckdb.DuckDBPyConnection) -> Result:
    """The :data:`TOP` dbt models (MATERIALISATION operations of dbt tasks) with the highest p95 duration [s]."""
    return _result(connection, "Slowest dbt models", f"""
        select operation_name as "model", count(*) as runs,
               round(quantile_cont(operation_duration, 0.5), 2) as "p50 [s]",
               round(quantile_cont(operation_duration, 0.95), 2) as "p95 [s]",
               round(max(operation_duration), 2) as "max [s]",
               count(*) filter (where operation_status = 'FAILED') as failures
        from operations
        where integration like 'DBT%' and operation_type = 'MATERIALISATION' and operation_duration is not null
        group by all order by "p95 [s]" desc, "model" limit {TOP}""")


def totals(connection: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Row counts of the loaded tables: ``{"pipeline_runs": n, "task_runs": n, "operations": n}``."""
    return {table: connection.execute(f"select count(*) from {table}").fetchone()[0]  # type: ignore[index]
            for table in ("pipeline_runs", "task_runs", "operations")}
