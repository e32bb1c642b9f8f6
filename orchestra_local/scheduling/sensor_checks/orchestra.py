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

from sqlalchemy import or_, select

from orchestra_local.scheduling.sensor_checks.base import CheckContext, CheckResult, SensorConfigError
from orchestra_local.store.repository import PIPELINE_RUNS
from orchestra_local.store.sensor_events import latest_sensor_event

ENDED = frozenset({"SUCCEEDED", "WARNING", "FAILED", "CANCELLED", "SKIPPED"})


def _statuses(ctx: CheckContext) -> list[str]:
    value = ctx.parameters.get("status", ["SUCCEEDED"])
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise SensorConfigError(f"{ctx.where}.parameters.status must be a status or a list of statuses")
    wanted = [v.strip().upper() for v in values]
    unknown = [v for v in wanted if v not in ENDED]
    if unknown:
        raise SensorConfigError(f"{ctx.where}.parameters.status: {', '.join(unknown)} is not an ended status "
                                f"({', '.join(sorted(ENDED))})")
    return wanted


def pipeline_status(ctx: CheckContext) -> CheckResult:
    """See the module doc.

    Raises:
        SensorConfigError: No ``pipeline_id``, or a status that is not an ended one.
        StoreError: The metadata store cannot be read.
    """
    pipeline = ctx.text("pipeline_id")
    assert pipeline is not None
    wanted = _statuses(ctx)
    c = PIPELINE_RUNS.c
    query = (select(c.id, c.run_status, c.completed_at)
             .where(or_(c.pipeline_id == pipeline.lower(), c.pipeline_alias == pipeline),
                    c.run_status.in_(sorted(ENDED)), c.completed_at.is_not(None))
             .order_by(c.completed_at.desc()).limit(1))
    if not ctx.flag("check_latest"):
        query = query.where(c.completed_at >= ctx.window_start)
    rows = ctx.store.read(query)
    if not rows:
        return CheckResult(False, f"no run of {pipeline} ended since the window opened", {})
    run = rows[0]
    outputs = {"pipeline_run_id": run["id"], "status": run["run_status"], "completed_at": run["completed_at"].isoformat()}
    passed = run["run_status"] in wanted
    verb = "is" if passed else "is not"
    return CheckResult(passed, f"latest run {run['id']} of {pipeline} ended {run['run_status']}, which {verb} "
                               f"in {'/'.join(wanted)}", outputs)


def webhook_event(ctx: CheckContext) -> CheckResult:
    """See the module doc.

    Raises:
        SensorConfigError: No ``event_type``.
        StoreError: The metadata store cannot be read.
    """
    event_type = ctx.text("event_type")
    assert event_type is not None
    since = None if ctx.flag("check_latest") else ctx.window_start
    event = latest_sensor_event(ctx.store, event_type, since)
    if event is None:
        return CheckResult(False, f"no {event_type!r} event since the window opened", {})
    return CheckResult(True, f"{event_type!r} event {event['id']} received at {event['received_at'].isoformat()}",
                       dict(event["sensor_event"]))

