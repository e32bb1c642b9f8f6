"""Trigger events: a pipeline run that ends starts every pipeline whose ``trigger_events`` name it.

An entry ``{type: pipeline, pipeline_id: <id> | "*", statuses, run_inputs}`` (orchestra-contract
section 5) fires when a run of that pipeline (``*``: of any other pipeline) ends in one of
``statuses`` (default SUCCEEDED and WARNING). Each scheduler pass (``scheduler.py``) reads the runs
that ended since the previous pass, from the store, so runs of ``orchestra-local run``, of the API
and of other schedulers count alike. A run that ended while no scheduler ran (more than a minute
before the pass that reads it) starts nothing: its tick is SKIPPED ("missed"), as for schedules
there is no catch-up.

Each start claims a TRIGGER_EVENT tick keyed by the upstream run's id and end time, in the
transaction that creates the run: two schedulers start it once. The new run records
``triggeredBy: [{triggerType: TRIGGER_EVENT, pipelineId, pipelineRunId, pipelineName,
wildcardParent}]`` and, in its ``data``, the chain of runs that led to it; a chain that reaches
:data:`MAX_TRIGGER_CHAIN` runs (A triggers B triggers A ...) starts nothing more and is recorded as
a SKIPPED tick naming the loop.

``run_inputs`` may map the upstream run (Orchestra's "Mapping parent pipeline run"):
``${{ outputs.pipeline_run }}`` is the whole run as ``{pipeline_run_id, pipeline_id,
pipeline_name, status, message, started_at, completed_at}`` (the field names of Orchestra's
run-completed webhook body; times ISO 8601), ``${{ outputs.pipeline_run["pipeline_run_id"] }}``
one field. An expression that fails makes the start a FAILED tick naming it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from orchestra_local.api.registry import PipelineFile
from orchestra_local.expressions import Scope, evaluate_template, resolve
from orchestra_local.spec.models import TriggerEvent
from orchestra_local.store import RunStore
from orchestra_local.store.repository import PIPELINE_RUNS

DEFAULT_STATUSES = ("SUCCEEDED", "WARNING")
MAX_TRIGGER_CHAIN = 10
"""Most runs in one chain of trigger events; the next hop is refused (a loop, or a runaway cascade)."""
LOOKBACK = timedelta(seconds=10)
"""Runs whose end is this much before the previous pass are read again (a run's end is committed a
moment after its ``completed_at``); the claim keeps them from starting anything twice."""
ENDED = ("SUCCEEDED", "WARNING", "FAILED", "SKIPPED", "CANCELLED")


@dataclass(frozen=True)
class EventTrigger:
    """One ``trigger_events`` entry of one pipeline file (``index``: its position, for messages)."""

    pipeline: PipelineFile
    index: int
    entry: TriggerEvent
    paused: bool

    def matches(self, run: dict[str, Any]) -> bool:
        """Whether the ended ``run`` (a ``pipeline_runs`` record) fires this entry."""
        wanted = self.entry.pipeline_id
        if wanted == "*":
            if run["pipeline_id"] == self.pipeline.id:
                return False  # "any pipeline" never means itself: that would be a loop by construction
        elif wanted.lower() != run["pipeline_id"]:
            return False
        statuses = [str(status) for status in (self.entry.statuses or DEFAULT_STATUSES)]
        return run["run_status"] in statuses


def ended_runs(store: RunStore, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Pipeline runs that ended in (``since`` - :data:`LOOKBACK`, ``until``], oldest end first."""
    c = PIPELINE_RUNS.c
    return store.read(select(c.id, c.pipeline_id, c.pipeline_name, c.pipeline_alias, c.run_status, c.message,
                             c.started_at, c.completed_at, c.data)
                      .where(c.completed_at > since - LOOKBACK, c.completed_at <= until, c.run_status.in_(ENDED))
                      .order_by(c.completed_at))


def chain_of(run: dict[str, Any]) -> list[dict[str, str]]:
    """The runs that led to a run through trigger events, then the run itself: ``[{id, alias}]``."""
    earlier = (run.get("data") or {}).get("trigger_chain") or []
    return [*earlier, {"id": run["id"], "alias": run["pipeline_alias"]}]


def loop_reason(chain: Iterable[dict[str, str]], alias: str) -> str:
    """Why the next hop is refused: the chain, by pipeline alias, ending in the refused one."""
    hops = " -> ".join(item["alias"] for item in chain)
    seen = {item["alias"] for item in chain}
    kind = "trigger loop" if alias in seen else "trigger chain too long"
    return f"{kind}: {hops} -> {alias} ({MAX_TRIGGER_CHAIN} runs at most; see MAX_TRIGGER_CHAIN)"


def triggered_by(run: dict[str, Any], wildcard: bool) -> list[dict[str, Any]]:
    """Orchestra's ``triggeredBy`` of a run started by the end of ``run`` (``TriggeredByApiModel``)."""
    return [{"triggerType": "TRIGGER_EVENT", "pipelineId": run["pipeline_id"], "pipelineRunId": run["id"],
             "pipelineName": run["pipeline_name"], "wildcardParent": wildcard}]


def run_inputs_of(entry: TriggerEvent, run: dict[str, Any], env: dict[str, str], where: str) -> dict[str, Any]:
    """The entry's ``run_inputs`` with ``${{ outputs.pipeline_run }}`` bound to the ended ``run`` (a value
    that is exactly one expression keeps its type: the whole run maps to a dict input).

    Raises:
        ExpressionError: An expression that fails, located at ``<where>.run_inputs.<name>``.
    """
    started, completed = run.get("started_at"), run.get("completed_at")
    pipeline_run = {"pipeline_run_id": run["id"], "pipeline_id": run["pipeline_id"],
                    "pipeline_name": run["pipeline_name"], "status": run["run_status"], "message": run.get("message"),
                    "started_at": started.isoformat() if started else None,
                    "completed_at": completed.isoformat() if completed else None}
    scope = Scope(env=env, outputs={"pipeline_run": pipeline_run})
    return {name: evaluate_template(value, scope, f"{where}.run_inputs.{name}") if isinstance(value, str)
            else resolve(value, scope, f"{where}.run_inputs.{name}") for name, value in (entry.run_inputs or {}).items()}
