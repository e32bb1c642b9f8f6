"""Which alert rules a status matches, and the outbox rows they produce.

Orchestra's contract (orchestra-contract section 6; its "Webhook" connector page): an alert names
``statuses`` among ``ANY_COMPLETED, CANCELLED, FAILED, SUCCEEDED, WARNING, SKIPPED`` and
``destinations`` ``{integration, destination, connection_id, parameters}``. A webhook alert's body
is ``{"event_type": "PIPELINE_RUN_COMPLETED" | "TASK_RUN_COMPLETED", "detail": {...}}``; the same
``detail`` feeds every other destination's message.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from orchestra_local.spec.models import Alert
from orchestra_local.store import RunStore

TERMINAL = frozenset({"SUCCEEDED", "WARNING", "FAILED", "SKIPPED", "CANCELLED"})
PIPELINE_EVENT = "PIPELINE_RUN_COMPLETED"
TASK_EVENT = "TASK_RUN_COMPLETED"


def matches(alert: Alert, status: str) -> bool:
    """Whether ``status`` (a terminal run or task-run status) fires ``alert``."""
    wanted = {str(value) for value in alert.statuses}
    return status in TERMINAL and (status in wanted or "ANY_COMPLETED" in wanted)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def pipeline_detail(run: Mapping[str, Any], status: str, message: str, completed_at: datetime) -> dict[str, Any]:
    """The ``detail`` of a PIPELINE_RUN_COMPLETED event for ``run`` (a ``pipeline_runs`` record) ending now."""
    return {"pipeline_id": run["pipeline_id"], "pipeline_run_id": run["id"], "pipeline_name": run.get("pipeline_name"),
            "status": status, "message": message, "started_at": _iso(run.get("started_at")),
            "completed_at": _iso(completed_at)}


def task_detail(run: Mapping[str, Any], task: Mapping[str, Any], status: str, message: str,
                completed_at: datetime) -> dict[str, Any]:
    """The ``detail`` of a TASK_RUN_COMPLETED event for ``task`` (a ``task_runs`` record) of ``run``."""
    return {"pipeline_id": run["pipeline_id"], "pipeline_run_id": run["id"], "pipeline_name": run.get("pipeline_name"),
            "task_id": task["task_id"], "task_name": task.get("task_name") or task["task_id"],
            "task_run_id": task["id"], "status": status, "message": message,
            "started_at": _iso(task.get("started_at")), "completed_at": _iso(completed_at)}


def outbox_rows(alerts: Iterable[Alert], event_type: str, detail: Mapping[str, Any],
                created_at: datetime) -> list[dict[str, Any]]:
    """One ``alert_outbox`` row per destination of each rule ``detail["status"]`` matches (none: ``[]``).

    Each row carries everything its delivery needs (the rule's name, the destination, the event),
    so a later edit of the pipeline file cannot change an alert that is already owed.
    """
    rows = []
    for alert in alerts:
        if not matches(alert, detail["status"]):
            continue
        for destination in alert.destinations:
            rows.append({
                "id": str(uuid.uuid4()), "pipeline_run_id": detail["pipeline_run_id"],
                "task_run_id": detail.get("task_run_id"), "alert_name": alert.name, "event_type": event_type,
                "integration": destination.integration, "destination": destination.destination,
                "connection_id": destination.connection_id, "parameters": destination.parameters or {},
                "custom_message": alert.custom_message, "detail": dict(detail), "state": "PENDING", "attempts": 0,
                "next_attempt_at": created_at, "last_error": None, "created_at": created_at, "delivered_at": None,
            })
    return rows


def pipeline_outbox(store: RunStore, pipeline_run_id: str, alerts: Sequence[Alert], status: str, message: str,
                    completed_at: datetime) -> list[dict[str, Any]]:
    """The outbox rows a pipeline run ending in ``status`` owes (reads the run only when a rule matches)."""
    if not any(matches(alert, status) for alert in alerts):
        return []
    run = store.get_pipeline_run(pipeline_run_id) or {"id": pipeline_run_id, "pipeline_id": None}
    return outbox_rows(alerts, PIPELINE_EVENT, pipeline_detail(run, status, message, completed_at), completed_at)


def task_outbox(store: RunStore, pipeline_run_id: str, task_run_id: str, alerts: Sequence[Alert], status: str,
                message: str, completed_at: datetime) -> list[dict[str, Any]]:
    """The outbox rows a task run ending in ``status`` owes (reads the runs only when a rule matches)."""
    if not any(matches(alert, status) for alert in alerts):
        return []
    run = store.get_pipeline_run(pipeline_run_id) or {"id": pipeline_run_id, "pipeline_id": None}
    task = store.get_task_run(task_run_id) or {"id": task_run_id, "task_id": task_run_id}
    return outbox_rows(alerts, TASK_EVENT, task_detail(run, task, status, message, completed_at), completed_at)
