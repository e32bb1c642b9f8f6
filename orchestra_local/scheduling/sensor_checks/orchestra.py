"""Checks on the runner's own metadata: ORCHESTRA_PIPELINE_STATUS and ORCHESTRA_WEBHOOK_EVENT.

ORCHESTRA_PIPELINE_STATUS (Orchestra's "Orchestra Sensor" page: pipeline, status, check latest):
passes when the most recent run of ``pipeline_id`` (its id or alias) that completed since the
window opened ended in one of ``status`` (one status or a list; default SUCCEEDED); with
``check_latest: true``, when the latest completed run, whenever it ended, did. Outputs:
``pipeline_run_id``, ``status``, ``completed_at`` (ISO 8601) of that run.

ORCHESTRA_WEBHOOK_EVENT (the "Webhook events sensor" page): passes when an event with
``sensor_event_type`` = ``event_type`` arrived since the window opened (``check_latest: true``: at
any time in the last 7 days); only the most recent one counts. Outputs: the fields of its
``sensor_event`` object, so ``map_outputs: {day: "${{ outputs.day }}"}`` maps a field to an input.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from sqlalchemy import or_, select

from orchestra_local.scheduling.sensor_checks.base import CheckContext, CheckParameters, CheckResult
from orchestra_local.store.repository import PIPELINE_RUNS
from orchestra_local.store.sensor_events import latest_sensor_event

EndedStatus = Literal["SUCCEEDED", "WARNING", "FAILED", "CANCELLED", "SKIPPED"]
ENDED = ("SUCCEEDED", "WARNING", "FAILED", "CANCELLED", "SKIPPED")
PIPELINE_STATUS_OUTPUT_KEYS = ("pipeline_run_id", "status", "completed_at")


class PipelineStatusParameters(CheckParameters):
    """ORCHESTRA_PIPELINE_STATUS parameters (Orchestra's labels "Orchestra Pipeline", "Status", "Check latest")."""

    pipeline_id: str = Field(min_length=1, description="The pipeline watched: its id, or locally its alias.")
    status: list[EndedStatus] = Field(["SUCCEEDED"], min_length=1, description="Statuses that pass (one or a list).")
    check_latest: bool = Field(False, description="Look at the latest run, not only runs ended since the window opened.")

    @field_validator("status", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        values = [value] if isinstance(value, str) else value
        return [v.strip().upper() for v in values] if isinstance(values, list) and all(
            isinstance(v, str) for v in values) else value


class WebhookEventParameters(CheckParameters):
    """ORCHESTRA_WEBHOOK_EVENT parameters (Orchestra's: ``event_type``, "Check the latest webhook event")."""

    event_type: str = Field(min_length=1, max_length=200, description="The events' sensor_event_type.")
    check_latest: bool = Field(False, description="Accept the latest event of the last 7 days, not only newer ones.")


def pipeline_status(ctx: CheckContext) -> CheckResult:
    """See the module doc.

    Raises:
        SensorConfigError: Bad parameters (no ``pipeline_id``, a status that is not an ended one).
        StoreError: The metadata store cannot be read.
    """
    params = ctx.parse(PipelineStatusParameters)
    pipeline = params.pipeline_id
    c = PIPELINE_RUNS.c
    query = (select(c.id, c.run_status, c.completed_at)
             .where(or_(c.pipeline_id == pipeline.lower(), c.pipeline_alias == pipeline),
                    c.run_status.in_(ENDED), c.completed_at.is_not(None))
             .order_by(c.completed_at.desc()).limit(1))
    if not params.check_latest:
        query = query.where(c.completed_at >= ctx.window_start)
    rows = ctx.store.read(query)
    if not rows:
        return CheckResult(False, f"no run of {pipeline} ended since the window opened", {})
    run = rows[0]
    outputs = {"pipeline_run_id": run["id"], "status": run["run_status"], "completed_at": run["completed_at"].isoformat()}
    passed = run["run_status"] in params.status
    verb = "is" if passed else "is not"
    return CheckResult(passed, f"latest run {run['id']} of {pipeline} ended {run['run_status']}, which {verb} "
                               f"in {'/'.join(params.status)}", outputs)


def webhook_event(ctx: CheckContext) -> CheckResult:
    """See the module doc.

    Raises:
        SensorConfigError: Bad parameters (no ``event_type``).
        StoreError: The metadata store cannot be read.
    """
    params = ctx.parse(WebhookEventParameters)
    since = None if params.check_latest else ctx.window_start
    event = latest_sensor_event(ctx.store, params.event_type, since)
    if event is None:
        return CheckResult(False, f"no {params.event_type!r} event since the window opened", {})
    return CheckResult(True, f"{params.event_type!r} event {event['id']} received at "
                             f"{event['received_at'].isoformat()}", dict(event["sensor_event"]))
