"""The report as one self-contained HTML file: plotly charts (plotly.js embedded, so it opens offline) and tables.

Charts: runs per pipeline by outcome, daily p50/p95 duration per pipeline, slowest tasks, flaky
tasks, rows loaded per table per day, slowest dbt models, and the Gantt timeline of one run
(``orchestra_local.viewer.gantt``, the chart the run viewer draws too).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import plotly.graph_objects as go
from jinja2 import Environment, FileSystemLoader, select_autoescape
from plotly.offline import get_plotlyjs

from analytics.metrics import Result
from analytics.report import Report
from orchestra_local.viewer.gantt import gantt_figure

TEMPLATES = Path(__file__).with_name("templates")


def _column(result: Result, name: str) -> list:
    index = result.columns.index(name)
    return [row[index] for row in result.rows]


def _layout(figure: go.Figure, height: int = 380) -> go.Figure:
    figure.update_layout(height=height, margin={"l": 10, "r": 10, "t": 50, "b": 40},
                         legend={"orientation": "h", "y": 1.02, "yanchor": "bottom"})
    figure.update_yaxes(automargin=True)
    return figure


def success_figure(result: Result) -> go.Figure:
    """Stacked bars: succeeded and failed runs per pipeline."""
    figure = go.Figure()
    pipelines = _column(result, "pipeline")
    figure.add_bar(name="succeeded", x=pipelines, y=_column(result, "succeeded"), marker_color="#2e7d32")
    figure.add_bar(name="failed", x=pipelines, y=_column(result, "failed"), marker_color="#c62828")
    figure.update_layout(barmode="stack", yaxis_title="runs")
    return _layout(figure)


def trend_figure(result: Result) -> go.Figure:
    """Lines: p50 (solid) and p95 (dotted) run duration per pipeline and day."""
    figure = go.Figure()
    by_pipeline: dict[str, list[tuple]] = defaultdict(list)
    for row in result.rows:
        by_pipeline[row[0]].append(row)
    for pipeline, rows in by_pipeline.items():
        days = [row[1].isoformat() for row in rows]
        figure.add_scatter(name=f"{pipeline} p50", x=days, y=[row[3] for row in rows], mode="lines+markers")
        figure.add_scatter(name=f"{pipeline} p95", x=days, y=[row[4] for row in rows], mode="lines",
                           line={"dash": "dot"})
    figure.update_layout(yaxis_title="seconds", xaxis_type="date")
    return _layout(figure)


def ranking_figure(result: Result, label: str, values: tuple[str, ...], unit: str) -> go.Figure:
    """Horizontal bars of a "slowest"/"flaky" table: one bar group per row, top row on top."""
    figure = go.Figure()
    labels = [" / ".join(str(part) for part in key) for key in zip(*(_column(result, name) for name in label.split(",")),
                                                                    strict=True)]
    for value in values:
        figure.add_bar(name=value, y=labels, x=_column(result, value), orientation="h")
    figure.update_layout(barmode="group", xaxis_title=unit, yaxis={"autorange": "reversed"})
    return _layout(figure, height=160 + 34 * max(len(labels), 1))


def rows_figure(result: Result) -> go.Figure:
    """Stacked bars: rows loaded per day, one colour per table."""
    figure = go.Figure()
    by_table: dict[str, list[tuple]] = defaultdict(list)
    for row in result.rows:
        by_table[row[1]].append(row)
    for table, rows in sorted(by_table.items()):
        figure.add_bar(name=table, x=[row[0].isoformat() for row in rows], y=[row[3] for row in rows])
    figure.update_layout(barmode="stack", yaxis_title="rows", xaxis_type="date")
    return _layout(figure)


def _html(figure: go.Figure, div_id: str) -> str:
    return figure.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config={"displaylogo": False})


def render_html(report: Report) -> str:
    """The whole page: charts where there is data, every table below its chart."""
    charts = [
        ("pipelines", report.pipelines, success_figure(report.pipelines)),
        ("trend", report.daily, trend_figure(report.daily)),
        ("slowest-tasks", report.slowest_tasks,
         ranking_figure(report.slowest_tasks, "pipeline,task", ("p50 [s]", "p95 [s]"), "seconds")),
        ("flaky-tasks", report.flaky_tasks,
         ranking_figure(report.flaky_tasks, "pipeline,task", ("succeeded after retry",), "task runs")),
        ("rows", report.rows_per_day, rows_figure(report.rows_per_day)),
        ("slowest-models", report.slowest_models,
         ranking_figure(report.slowest_models, "model", ("p50 [s]", "p95 [s]"), "seconds")),
    ]
    sections = [{"id": div_id, "result": result, "chart": _html(figure, div_id) if result.rows else ""}
                for div_id, result, figure in charts]
    gantt = ""
    if report.run is not None:
        title = f"Run {report.run['id']} ({report.run['pipeline_name']}, {report.run['run_status']})"
        gantt = _html(gantt_figure(report.bars, title), "gantt")
    environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    return environment.get_template("report.html").render(
        report=report, sections=sections, gantt=gantt, plotly_js=get_plotlyjs())


def write_html(report: Report, path: Path) -> None:
    """Write :func:`render_html` to ``path`` (written to a sibling temporary file, then renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(render_html(report), encoding="utf-8")
    partial.replace(path)
