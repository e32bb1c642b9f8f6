"""Ticks: every evaluation of a trigger, and the claim that makes a fire time start at most one run.

A tick is keyed by (pipeline, trigger kind, trigger name, scheduled time) (``models.TICKS``). A tick
that starts a run is inserted by ``RunStore.create_pipeline_run(tick=...)`` in the run's own
transaction; one that starts nothing (SKIPPED: paused, missed while the scheduler was down;
TIMED_OUT: a sensor window; FAILED: the start was refused) by :func:`record_tick`. Either way the
key is claimed once: a second scheduler evaluating the same fire time finds it taken.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from orchestra_local.store.models import TICKS

if TYPE_CHECKING:
    from orchestra_local.store.repository import RunStore

NAME_LENGTH = 200
"""Longest trigger name stored (``ticks.trigger_name``); a longer schedule name is cut, consistently."""


class TriggerKind(StrEnum):
    """What evaluated: a ``schedule`` entry, a ``sensors`` entry, a ``trigger_events`` entry."""

    SCHEDULE = "SCHEDULE"
    SENSOR = "SENSOR"
    TRIGGER_EVENT = "TRIGGER_EVENT"


class TickOutcome(StrEnum):
    """What the evaluation did."""

    STARTED = "STARTED"
    SKIPPED = "SKIPPED"
    TIMED_OUT = "TIMED_OUT"
    FAILED = "FAILED"


def claim(pipeline_id: str, pipeline_alias: str, kind: TriggerKind, name: str, scheduled_for: datetime) -> dict[str, Any]:
    """The key of a tick, as ``RunRequest.tick`` and :func:`record_tick` take it (``scheduled_for`` aware)."""
    return {"pipeline_id": pipeline_id, "pipeline_alias": pipeline_alias[:200], "trigger_kind": str(kind),
            "trigger_name": name[:NAME_LENGTH], "scheduled_for": scheduled_for}


def started_tick(tick: Mapping[str, Any], run: Mapping[str, Any]) -> dict[str, Any]:
    """The STARTED row of ``tick`` for the pipeline run ``run`` (a ``pipeline_runs`` record being inserted);
    ``tick["reason"]``, if given, says why it started (a sensor's findings)."""
    return {"id": str(uuid.uuid4()), "pipeline_id": run["pipeline_id"], "pipeline_alias": tick["pipeline_alias"],
            "trigger_kind": tick["trigger_kind"], "trigger_name": tick["trigger_name"],
            "scheduled_for": tick["scheduled_for"], "evaluated_at": run["created_at"],
            "outcome": TickOutcome.STARTED.value, "reason": tick.get("reason", ""), "pipeline_run_id": run["id"]}


def record_tick(store: RunStore, tick: Mapping[str, Any], outcome: TickOutcome, reason: str) -> bool:
    """Insert a tick that started nothing; False when its key was claimed already (nothing written).

    Raises:
        StoreError: Any other failed write.
    """
    row = {**tick, "id": str(uuid.uuid4()), "evaluated_at": datetime.now(UTC), "outcome": outcome.value,
           "reason": reason, "pipeline_run_id": None}
    return store.insert_once(TICKS, row)


def list_ticks(store: RunStore, pipeline: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The latest ticks (by scheduled time, newest first), of one pipeline (its id or alias) or all."""
    statement = select(TICKS).order_by(TICKS.c.scheduled_for.desc(), TICKS.c.evaluated_at.desc()).limit(limit)
    if pipeline is not None:
        statement = statement.where((TICKS.c.pipeline_id == pipeline) | (TICKS.c.pipeline_alias == pipeline))
    return store.read(statement)
