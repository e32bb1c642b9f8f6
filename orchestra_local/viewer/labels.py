"""Short human labels for the viewer: what started a run (its ``triggeredBy``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def started_by(triggered_by: Sequence[dict[str, Any]] | None) -> str:
    """``triggeredBy`` (Orchestra's ``TriggeredByApiModel`` list) as one phrase, e.g. ``schedule 'Daily'``.

    Unknown trigger types are shown by their name; none at all reads ``manual``.
    """
    if not triggered_by:
        return "manual"
    first = triggered_by[0]
    kind = str(first.get("triggerType") or "")
    if kind == "SCHEDULED":
        return f"schedule '{first.get('scheduleName')}' ({first.get('scheduleCron')} {first.get('scheduleTimezone')})"
    if kind == "SENSOR":
        return f"sensor '{first.get('sensorName')}'"
    if kind == "TRIGGER_EVENT":
        return f"end of run {str(first.get('pipelineRunId'))[:8]} of {first.get('pipelineName')}"
    if kind == "WEBHOOK":
        return "API"
    if kind.startswith("RESTART"):
        return f"restart of run {str(first.get('pipelineRunId') or '')[:8]}".strip()
    return kind.lower() or "manual"
