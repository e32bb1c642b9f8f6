"""Terminal output of the CLI: the live progress of a run, summary tables, the plan tree."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from orchestra_local.engine.events import RunListener
from orchestra_local.engine.graph import NodeRun
from orchestra_local.engine.plan import Plan
from orchestra_local.masking import Masker
from orchestra_local.spec.statuses import TaskRunStatus

STATUS_STYLES = {
    "SUCCEEDED": "green",
    "WARNING": "yellow",
    "FAILED": "bold red",
    "SKIPPED": "dim",
    "CANCELLED": "magenta",
    "RUNNING": "cyan",
    "QUEUED": "blue",
    "CREATED": "dim",
}


def styled_status(status: str) -> Text:
    """A status word in its colour."""
    return Text(status, style=STATUS_STYLES.get(status, ""))


class LiveProgress(RunListener):
    """Live display: an overall bar (tasks done / total, failures) and one line per running task.

    Finished tasks are printed above the live area as they end. Thread-safe. Messages and notes
    are masked with ``masker`` before they are printed (an integration's error may quote a secret).
    """

    def __init__(self, console: Console, masker: Masker | None = None):
        self.console = console
        self._mask = masker.mask if masker is not None else str
        self._lock = threading.Lock()
        self._overall = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[summary]}"), TimeElapsedColumn(), console=console,
        )
        self._running = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console)
        self._rows: dict[str, TaskID] = {}
        self._total: TaskID | None = None
        self._counts: dict[str, int] = {}
        self._notes: set[str] = set()
        self._live = Live(Group(self._overall, self._running), console=console, refresh_per_second=8, transient=True)
        self._shown = False  # the live area is on screen (entered): otherwise only the lines are printed

    def __enter__(self) -> LiveProgress:
        self._live.__enter__()
        self._shown = True
        return self

    def __exit__(self, *exc: object) -> None:
        self._shown = False
        self._live.__exit__(*exc)  # type: ignore[arg-type]

    def run_started(self, pipeline_run_id: str, plan: Plan) -> None:
        """Show the run id and start the overall bar."""
        self.console.print(f"pipeline run [bold]{pipeline_run_id}[/] of [bold]{escape(plan.pipeline.name)}[/]")
        self._total = self._overall.add_task("tasks", total=plan.task_count, summary="")

    def nodes_added(self, count: int) -> None:
        """Grow the total when a matrix expands at run time (one placeholder per task was counted)."""
        if self._total is not None:
            with self._lock:
                total = self._overall.tasks[self._total].total or 0
                self._overall.update(self._total, total=total + count - 1)

    def node_changed(self, node: NodeRun) -> None:
        """Track running tasks; print and count finished ones."""
        with self._lock:
            key = node.task_run_id
            if node.status == TaskRunStatus.RUNNING and not self._shown:
                return  # no live area to put it in (--no-progress, or output not a terminal)
            if node.status == TaskRunStatus.RUNNING:
                attempt = f" (attempt {node.attempts})" if node.attempts > 1 else ""
                label = f"{node.entry_id}.{node.label}{attempt}"
                if key in self._rows:
                    self._running.update(self._rows[key], description=label)
                else:
                    self._rows[key] = self._running.add_task(label, total=None)
            elif node.status.is_terminal:
                row = self._rows.pop(key, None)
                if row is not None:
                    self._running.remove_task(row)
                self._counts[node.status] = self._counts.get(node.status, 0) + 1
                line = Text.assemble(styled_status(f"{node.status:<9}"), f" {node.entry_id}.{node.label}")
                if node.message and node.status != TaskRunStatus.SUCCEEDED:
                    line.append(f"  {self._mask(node.message)}", style="dim")
                self.console.print(line, soft_wrap=True)  # paths in messages (a dbt log) stay on one line
                if self._total is not None and self._shown:
                    summary = " ".join(f"{n} {s.lower()}" for s, n in sorted(self._counts.items()))
                    self._overall.update(self._total, advance=1, summary=summary)

    def note(self, message: str) -> None:
        """Print each distinct note once."""
        message = self._mask(message)
        with self._lock:
            if message not in self._notes:
                self._notes.add(message)
                self.console.print(f"[dim]note:[/] {escape(message)}")


def _seconds(record: Mapping[str, Any]) -> str:
    started, completed = record.get("started_at"), record.get("completed_at")
    if started is None or completed is None:
        return ""
    return f"{(completed - started).total_seconds():.1f}"


def _rows(record: Mapping[str, Any], outputs: Mapping[str, Any], operations: list[Mapping[str, Any]]) -> str:
    affected = [op["rows_affected"] for op in operations if op.get("rows_affected") is not None]
    if affected:
        return f"{sum(affected):,}"
    written = outputs.get("rows_written")
    return f"{written:,}" if isinstance(written, int) else ""


def task_label(record: Mapping[str, Any]) -> str:
    """``group.task`` plus ``[value]`` for a matrix iteration, as run tables show it."""
    label = f"{record['group_id']}.{record['task_id']}"
    value = (record.get("run_parameters") or {}).get("matrix")
    return f"{label}[{next(iter(value.values()))}]" if value else label


def task_run_table(
    task_runs: Iterable[Mapping[str, Any]],
    outputs: Mapping[str, Mapping[str, Any]],
    operations: Mapping[str, list[Mapping[str, Any]]],
) -> Table:
    """Summary table of a run's task runs (matrix parents omitted): task, task run id, status, attempts, seconds, rows."""
    table = Table(title="task runs", title_justify="left")
    for column, justify in (("task", "left"), ("task run", "left"), ("status", "left"), ("attempts", "right"),
                            ("seconds", "right"), ("rows", "right"), ("operations", "right"), ("message", "left")):
        table.add_column(column, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for record in task_runs:
        if record["matrix_parent"]:
            continue
        label = Text(task_label(record))
        ops = operations.get(record["id"], [])
        message = record.get("message") or ""
        table.add_row(
            label, record["id"], styled_status(record["status"]), str(record["number_of_attempts"]), _seconds(record),
            _rows(record, outputs.get(record["id"], {}), ops), str(len(ops)) if ops else "",
            Text("" if record["status"] == "SUCCEEDED" else (message.splitlines() or [""])[0][:200]),
        )
    return table


RUN_SUMMARY_ROWS = 50
"""Most task runs the table at the end of ``orchestra-local run`` shows (``runs <id>`` shows all)."""


def run_summary_rows(task_runs: Sequence[Mapping[str, Any]], limit: int) -> tuple[list[Mapping[str, Any]], str]:
    """The task runs (matrix parents omitted) a run's closing table shows, at most ``limit``, and a
    line on the rest ("" when none is left out).

    A bigger run keeps its task runs that did not succeed, in plan order, then as many of the
    others as fit: 200 rows of SUCCEEDED repeat the lines printed while it ran and cost rich
    ~0.8 ms each to lay out.
    """
    rows = [record for record in task_runs if not record["matrix_parent"]]
    if len(rows) <= limit:
        return rows, ""
    ranked = sorted(range(len(rows)), key=lambda index: (rows[index]["status"] == "SUCCEEDED", index))
    kept = set(ranked[:limit])  # the task runs that did not succeed first, each kind in plan order
    shown = [record for index, record in enumerate(rows) if index in kept]
    left = [record["status"] for index, record in enumerate(rows) if index not in kept]
    counts = ", ".join(f"{left.count(status)} {status.lower()}" for status in dict.fromkeys(left))
    return shown, f"{len(left)} more task runs not shown ({counts})"


def failure_details(task_runs: Iterable[Mapping[str, Any]]) -> list[Text]:
    """The whole message of each failed task run the table cut short (several lines, or over 200
    characters): e.g. every failed dbt model and test with dbt's error, and the log's path."""
    details = []
    for record in task_runs:
        message = record.get("message") or ""
        if record["status"] == "FAILED" and not record["matrix_parent"] and ("\n" in message or len(message) > 200):
            details.append(Text.assemble((f"{task_label(record)} failed:", "bold red"), "\n", message))
    return details


def pipeline_runs_table(runs: Iterable[Mapping[str, Any]]) -> Table:
    """Table of pipeline runs: id, pipeline, status, created, seconds, message."""
    table = Table(title="pipeline runs", title_justify="left")
    for column in ("id", "pipeline", "status", "created (UTC)", "seconds", "message"):
        table.add_column(column, overflow="fold")
    for run in runs:
        table.add_row(
            run["id"], Text(run["pipeline_alias"]), styled_status(run["run_status"]),
            run["created_at"].strftime("%Y-%m-%d %H:%M:%S"), _seconds(run), Text(run.get("message") or ""),
        )
    return table


def plan_tree(plan: Plan) -> Tree:
    """The plan as a tree: entries (with dependencies, conditions, matrix) and their tasks."""
    tree = Tree(f"[bold]{escape(plan.pipeline.name)}[/] ({plan.task_count} task runs)")
    for entry in plan.entries:
        label = f"[bold]{escape(entry.entry_id)}[/]" + (f" — {escape(entry.name)}" if entry.name != entry.entry_id else "")
        if entry.depends_on:
            label += f"  [dim]after {escape(', '.join(entry.depends_on))}[/]"
        if entry.condition:
            label += f"  [yellow]if {escape(entry.condition)}[/]"
        if entry.paused:
            label += "  [magenta]paused[/]"
        branch = tree.add(label)
        if entry.matrix is not None:
            how = "sequential" if entry.matrix.sequential else f"max_parallel={entry.matrix.max_parallel or 'all'}"
            values = (", ".join(map(str, entry.matrix_values)) if entry.matrix_values is not None
                      else f"{entry.matrix.values} (expanded at run time)")
            branch.add(f"[cyan]matrix[/] {escape(entry.matrix.key)} = {escape('[' + values + ']')} ({how})")
        for task in entry.tasks:
            where = "local" if task.local else "[red]remote-only[/]"
            text = f"{escape(task.task_id)} [dim]{escape(task.task.integration)}/{escape(task.task.integration_job)}[/] ({where})"
            if task.depends_on:
                text += f" [dim]after {escape(', '.join(task.depends_on))}[/]"
            if task.task.condition:
                text += f" [yellow]if {escape(task.task.condition)}[/]"
            config = task.configuration
            if config.retries:
                text += f" [dim]retries={config.retries} every {config.retry_delay_minutes} min[/]"
            if config.timeout_seconds:
                text += f" [dim]timeout={config.timeout_seconds}s[/]"
            branch.add(text)
    return tree


def elapsed_since(start: float) -> str:
    """Seconds since a ``time.monotonic()`` start, formatted."""
    return f"{time.monotonic() - start:.1f}s"
