"""The batch's plan: every pipeline run a config asks for, in the order they will start.

An entry without a backfill is one run; an entry with one is a run per window (``windows.py``),
oldest window first unless ``newest_first``. A run's inputs are the entry's ``run_inputs`` with the
window's filled templates on top. Each planned run has a ``key`` (a hash of what it starts: workspace,
pipeline, branch, commit, environment and inputs), the identity by which a resumed batch recognises a
run it started before.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from run_multiple.config import BatchConfig, PipelineEntry
from run_multiple.windows import Step, Window, expand, render

DEFAULT_WINDOW_INPUTS = {"start_date": "{window_start}", "end_date": "{window_end}"}
"""The inputs a command-line range (``--from/--to/--step``) fills for an entry without a backfill."""


@dataclass(frozen=True)
class RangeOverride:
    """``--from/--to/--step``: the range every entry is backfilled over (their templates kept)."""

    start: date
    end: date
    step: Step


@dataclass(frozen=True)
class PlannedRun:
    """One pipeline run to start.

    Attributes:
        entry: Index of its entry in the config's ``pipelines``.
        workspace: The workspace label (its token is looked up by it).
        pipeline: Pipeline id or alias.
        run_inputs: The run's inputs (entry's ``run_inputs`` + the window's).
        window: The backfill window, or None.
    """

    entry: int
    workspace: str
    pipeline: str
    branch: str | None
    commit: str | None
    environment: str | None
    run_inputs: dict[str, Any] = field(hash=False)
    window: Window | None = None

    @property
    def key(self) -> str:
        """16 hex digits identifying what this run starts (equal for an equal request)."""
        identity = [self.workspace, self.pipeline, self.branch, self.commit, self.environment, self.run_inputs]
        return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary (for ``--dry-run`` and the state file)."""
        return {"key": self.key, "entry": self.entry, "workspace": self.workspace, "pipeline": self.pipeline,
                "branch": self.branch, "commit": self.commit, "environment": self.environment,
                "window": None if self.window is None else self.window.values(), "run_inputs": self.run_inputs}


def _entry_runs(index: int, entry: PipelineEntry, override: RangeOverride | None, newest_first: bool) -> list[PlannedRun]:
    common = {"entry": index, "workspace": entry.workspace, "pipeline": entry.pipeline, "branch": entry.branch,
              "commit": entry.commit, "environment": entry.environment}
    backfill = entry.backfill
    if override is None and backfill is None:
        return [PlannedRun(**common, run_inputs=dict(entry.run_inputs))]
    if override is not None:
        start, end, step = override.start, override.end, override.step
        templates = backfill.inputs if backfill is not None and backfill.inputs else DEFAULT_WINDOW_INPUTS
    else:
        assert backfill is not None
        start, end, step, templates = backfill.start, backfill.end, Step.parse(backfill.step), backfill.inputs
    return [PlannedRun(**common, run_inputs={**entry.run_inputs, **render(templates, window)}, window=window)
            for window in expand(start, end, step, newest_first=newest_first)]


def plan_runs(config: BatchConfig, *, override: RangeOverride | None = None, newest_first: bool = False) -> list[PlannedRun]:
    """Every run of the batch, entry by entry, each entry's windows in order.

    Raises:
        windows.WindowError: A range too long for its step (more than ``windows.MAX_WINDOWS``), or
            an override range that ends before it starts.
    """
    return [run for index, entry in enumerate(config.pipelines)
            for run in _entry_runs(index, entry, override, newest_first)]
