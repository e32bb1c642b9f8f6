"""What the batch shows: a live ``rich`` table on a terminal, one line per change otherwise, a summary.

``--output json`` prints the summary as one JSON document on stdout (progress then goes to
stderr): ``{"exit_code", "counts": {outcome: n}, "runs": [RunView.summary(), ...]}``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from rich.console import Console
from rich.live import Live
from rich.table import Table

from run_multiple.batch import Outcome, RunView
from run_multiple.plan import PlannedRun

_STYLES = {Outcome.ENDED: "green", Outcome.SKIPPED: "dim", Outcome.RUNNING: "cyan", Outcome.ACCEPTED: "cyan",
           Outcome.UNKNOWN: "yellow", Outcome.TIMED_OUT: "yellow"}


def window_text(run: PlannedRun) -> str:
    """``2024-01-01..2024-01-31``, or ``-`` for a run without a window."""
    return "-" if run.window is None else f"{run.window.start}..{run.window.end}"


def _state(view: RunView) -> str:
    if view.outcome in (Outcome.ENDED, Outcome.SKIPPED) or (view.outcome is Outcome.RUNNING and view.status):
        return f"{view.outcome}: {view.status}" if view.outcome is not Outcome.RUNNING else str(view.status)
    return str(view.outcome)


def _style(view: RunView) -> str:
    if view.outcome in (Outcome.ENDED, Outcome.SKIPPED) and not view.ok:
        return "red"
    return _STYLES.get(view.outcome, "red" if view.outcome in (Outcome.REJECTED, Outcome.LOST) else "")


def runs_table(views: Sequence[RunView], title: str | None = None) -> Table:
    """A table of the views: entry, pipeline, window, state, pipeline run id, origin, message."""
    table = Table(title=title, expand=False)
    for column in ("#", "pipeline", "window", "state", "pipeline run", "origin", "message"):
        table.add_column(column, overflow="fold")
    for view in views:
        table.add_row(str(view.run.entry), view.run.pipeline, window_text(view.run), _state(view),
                      view.pipeline_run_id or "", view.origin, view.message, style=_style(view))
    return table


def plan_table(views: Sequence[RunView], actions: Sequence[str]) -> Table:
    """``--dry-run``: each planned run with its inputs and what the batch would do with it."""
    table = Table(title="plan (nothing started)")
    for column in ("#", "workspace", "pipeline", "window", "run inputs", "would"):
        table.add_column(column, overflow="fold")
    for view, action in zip(views, actions, strict=True):
        table.add_row(str(view.run.entry), view.run.workspace, view.run.pipeline, window_text(view.run),
                      json.dumps(view.run.run_inputs, sort_keys=True), action)
    return table


def show(console: Console, table: Table) -> None:
    """A table on a terminal; on a pipe or a log file, one tab-separated line per row (never folded)."""
    if console.is_terminal:
        console.print(table)
        return
    if table.title:
        console.print(str(table.title), markup=False, highlight=False)
    cells = [[str(column.header), *(str(cell) for cell in column.cells)] for column in table.columns]
    for row in zip(*cells, strict=True):
        console.print("\t".join(row), markup=False, highlight=False, soft_wrap=True)


def summary_document(views: Sequence[RunView], exit_code: int) -> str:
    """The ``--output json`` document."""
    counts = Counter(str(view.outcome) if view.outcome is not Outcome.ENDED else f"ended_{view.status}"
                     for view in views)
    return json.dumps({"exit_code": exit_code, "counts": dict(sorted(counts.items())),
                       "runs": [view.summary() for view in views]}, indent=2, default=str)


class Display:
    """Progress of a batch on ``console``: live (a terminal) or one plain line per change."""

    def __init__(self, views: Sequence[RunView], console: Console) -> None:
        self.views = views
        self.console = console
        self.live: Live | None = None

    @contextmanager
    def showing(self) -> Iterator[Display]:
        """Keep a live table on screen while the batch runs (a terminal only)."""
        if not self.console.is_terminal:
            yield self
            return
        with Live(runs_table(self.views), console=self.console, auto_refresh=False, transient=True) as live:
            self.live = live
            try:
                yield self
            finally:
                self.live = None

    def changed(self, view: RunView) -> None:
        """Show a view's new state (a batch's ``changed`` callback)."""
        if self.live is not None:
            self.live.update(runs_table(self.views), refresh=True)
            return
        ended = f" {view.pipeline_run_id}" if view.pipeline_run_id else ""
        message = f": {view.message}" if view.message else ""
        self.console.print(f"{datetime.now().strftime('%H:%M:%S')} [{view.run.entry}] {view.run.pipeline} "
                           f"{window_text(view.run)} {_state(view)}{ended}{message}", highlight=False, markup=False,
                           soft_wrap=True)
