"""Which run, if any, a start request with a lost answer created.

A start whose answer was lost (``client.AmbiguousStartError``), or one the state file shows as sent
with no answer recorded (the tool was killed meanwhile), may have created a run. Orchestra's run
records do not carry the run inputs and drop ``ciRunId``, so the run is recognised by what the API
does show: a run of the same pipeline, created since the request was sent (less ``CLOCK_SKEW``), that
this batch does not already know, whose task runs' parameters contain every run input value (a
pipeline passes its inputs into task parameters; a run whose task runs do not exist yet is looked at
again). Exactly one such run: that is the one. None, or several that cannot be told apart: the
outcome stays unknown, and the window is not started again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from worker_kit.orchestra_api import OrchestraClient

CLOCK_SKEW = timedelta(seconds=60)
"""How far the server's clock may be behind this machine's (runs created that long before count)."""


@dataclass(frozen=True)
class Found:
    """What a look-up found: the run (or None) and why, for the report."""

    pipeline_run_id: str | None
    explanation: str


def _input_values(run_inputs: dict[str, Any]) -> list[str]:
    return [value if isinstance(value, str) else json.dumps(value) for value in run_inputs.values()]


def _carries_inputs(client: OrchestraClient, pipeline_run_id: str, values: list[str]) -> bool:
    if not values:
        return True
    text = json.dumps([[task.get("taskParameters"), task.get("runParameters")]
                       for task in client.task_runs(pipeline_run_id)], default=str)
    return all(value in text for value in values)


def find_started_run(client: OrchestraClient, pipeline_id: str, run_inputs: dict[str, Any], sent_at: datetime,
                     known_run_ids: Collection[str], *, attempts: int = 5, delay: float = 2.0,
                     sleep: Callable[[float], None] = time.sleep) -> Found:
    """Look for the run a start request sent at ``sent_at`` created.

    Args:
        client: The workspace's API.
        pipeline_id: The pipeline's id (UUID), as ``GET /pipeline`` gives it.
        run_inputs: The inputs the request carried.
        sent_at: When the request was sent (timezone-aware).
        known_run_ids: Runs this batch already owns (never the answer).
        attempts: Looks, ``delay`` seconds apart, while no run matches yet.

    Raises:
        client.ApiError: The run list or task runs could not be read.
    """
    values = _input_values(run_inputs)
    candidates: list[str] = []
    for attempt in range(attempts):
        candidates = [run["id"] for run in client.runs_since(pipeline_id, sent_at - CLOCK_SKEW)
                      if run["id"] not in known_run_ids]
        matching = [run_id for run_id in candidates if _carries_inputs(client, run_id, values)]
        if len(matching) == 1:
            return Found(matching[0], f"found run {matching[0]}, created after the request, with its inputs")
        if len(matching) > 1:
            return Found(None, f"{len(matching)} runs created after the request carry its inputs "
                               f"({', '.join(matching)}); cannot tell which")
        if attempt + 1 < attempts:
            sleep(delay)
    if candidates:
        return Found(None, f"{len(candidates)} run(s) created after the request, none showing its inputs")
    return Found(None, "no run of the pipeline was created after the request")

