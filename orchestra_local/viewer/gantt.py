"""The Gantt timeline of one pipeline run: one horizontal bar per task run, coloured by status.

Shared by the run viewer (``orchestra-local serve``, ``/runs/<id>``) and the analytics report
(``python -m analytics report --run <id>``), so both draw the same chart.

Every task run of the run gets a bar, also one that never started (a SKIPPED task: a thin bar where
the run ended) or lasted a few milliseconds: a bar is drawn at least :data:`MIN_BAR_SHARE` of the
run's span wide, its true duration is in the hover text. A task run that needed more than one
attempt is hatched and labelled with its number of attempts, so retries show at a glance.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import plotly.graph_objects as go

from orchestra_local.console import task_label

STATUS_COLOURS: dict[str, str] = {
    "SUCCEEDED": "#2e7d32", "WARNING": "#f9a825", "FAILED": "#c62828", "SKIPPED": "#9e9e9e",
    "CANCELLED": "#6d4c41", "CANCELLING": "#8d6e63", "RUNNING": "#1565c0", "QUEUED": "#90caf9",
    "CREATED": "#bbdefb",
}
"""Task run status -> bar colour (also used for status badges in the viewer)."""
OTHER_COLOUR = "#7e57c2"
MIN_BAR_SHARE = 0.006
"""Narrowest bar, as a share of the run's span (so a 10 ms task stays visible in a 10 min run)."""


@dataclass(frozen=True)
class GanttBar:
    """One task run on the timeline.

    Attributes:
        label: The task as run tables name it (``group.task`` or ``group.task[value]``).
        status: Task run status (``SUCCEEDED``, ``FAILED``, ...).
        started_at: Aware UTC start, or None when it never started.
        completed_at: Aware UTC end, or None while running / when it never ran.
        attempts: Number of attempts (``number_of_attempts``); above 1 means it was retried.
        task_run_id: The task run's id (shown on hover, used for links).
    """

    label: str
    status: str
    started_at: datetime | None
    completed_at: datetime | None
    attempts: int
    task_run_id: str


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def bars_from_task_runs(task_runs: Iterable[Mapping[str, Any]]) -> list[GanttBar]:
    """Bars of a run's task runs as the store returns them (dicts of ``models.TASK_RUNS`` columns).

    Matrix parents are left out: their iterations are drawn instead. Records without ``group_id``
    (the warehouse's Data App tables) are labelled by ``task_id``.
    """
    bars = []
    for record in task_runs:
        if record.get("matrix_parent"):
            continue
        label = task_label(record) if record.get("group_id") else str(record["task_id"])
        bars.append(GanttBar(label=label, status=str(record["status"]), started_at=_aware(record.get("started_at")),
                             completed_at=_aware(record.get("completed_at")),
                             attempts=int(record.get("number_of_attempts") or 0), task_run_id=str(record["id"])))
    return bars


def _span(bars: Sequence[GanttBar], now: datetime) -> tuple[datetime, datetime]:
    moments = [moment for bar in bars for moment in (bar.started_at, bar.completed_at) if moment is not None]
    moments += [now for bar in bars if bar.started_at is not None and bar.completed_at is None]  # still running
    return (min(moments), max(moments)) if moments else (now, now)


def _seconds(bar: GanttBar, now: datetime) -> float | None:
    if bar.started_at is None:
        return None
    return ((bar.completed_at or now) - bar.started_at).total_seconds()


def gantt_figure(bars: Sequence[GanttBar], title: str = "", now: datetime | None = None) -> go.Figure:
    """A plotly figure of the bars: time on x (UTC), one row per task run in the given order.

    Args:
        bars: The task runs, in plan order (drawn top to bottom).
        title: Figure title.
        now: End of bars still running (default: the current time).

    Returns:
        A figure with one trace per status (the legend names the statuses); each bar's
        ``customdata`` is its task run id.
    """
    now = now or datetime.now(UTC)
    start, end = _span(bars, now)
    min_width = max((end - start) * MIN_BAR_SHARE, timedelta(milliseconds=1))
    figure = go.Figure()
    for status in dict.fromkeys(bar.status for bar in bars):
        group = [bar for bar in bars if bar.status == status]
        begins = [bar.started_at or bar.completed_at or end for bar in group]
        widths = [max((bar.completed_at or now) - begin if bar.started_at else timedelta(0), min_width)
                  for bar, begin in zip(group, begins, strict=True)]
        hover = []
        for bar in group:
            seconds = _seconds(bar, now)
            took = f"{seconds:.2f} s" if seconds is not None else "never started"
            hover.append(f"<b>{html.escape(bar.label)}</b><br>{bar.status}, {took}<br>attempts: {bar.attempts}"
                         f"<br>task run {bar.task_run_id}")
        figure.add_bar(
            name=status, orientation="h", y=[html.escape(bar.label) for bar in group],
            base=[begin.isoformat() for begin in begins], x=[width.total_seconds() * 1000 for width in widths],
            marker={"color": STATUS_COLOURS.get(status, OTHER_COLOUR),
                    "pattern": {"shape": ["/" if bar.attempts > 1 else "" for bar in group]}},
            text=[f"{bar.attempts} attempts" if bar.attempts > 1 else "" for bar in group],
            textposition="outside", customdata=[bar.task_run_id for bar in group],
            hovertext=hover, hoverinfo="text",
        )
    figure.update_layout(
        title=title or None, barmode="overlay", height=140 + 26 * len(bars), margin={"l": 10, "r": 10, "t": 50, "b": 40},
        legend={"title": {"text": "status"}, "orientation": "h", "y": 1.02, "yanchor": "bottom"},
        xaxis={"type": "date", "title": {"text": "time (UTC)"}},
        yaxis={"categoryorder": "array", "categoryarray": [html.escape(bar.label) for bar in bars], "autorange": "reversed",
               "automargin": True},
    )
    return figure
