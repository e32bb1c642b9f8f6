"""``POST /webhook``: events that ``ORCHESTRA_WEBHOOK_EVENT`` sensor checks wait for.

The local stand-in for Orchestra's event webhook (``POST https://webhook.getorchestra.io``, its
"Webhook events sensor" page): the same bearer token as the API, the same body
``{"event_type": "SENSOR_EVENT", "sensor_event_type": "<type>", "sensor_event": {...}}``, the same
answer ``200 {"message": "Event stored"}``. Served at the root of ``orchestra-local serve`` (not
under ``/api/engine/public``), as Orchestra serves it on a host of its own.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from orchestra_local.api.deps import get_service, require_token
from orchestra_local.api.service import RunService
from orchestra_local.store.sensor_events import TYPE_LENGTH, record_sensor_event

router = APIRouter(tags=["sensors"], dependencies=[Depends(require_token)])


class SensorEventBody(BaseModel):
    """The event body (other ``event_type`` values go to a task run's ``ORCHESTRA_WEBHOOK_URL``)."""

    model_config = ConfigDict(extra="forbid")

    event_type: Literal["SENSOR_EVENT"]
    sensor_event_type: str = Field(min_length=1, max_length=TYPE_LENGTH)
    sensor_event: dict[str, Any] = Field(default_factory=dict)


@router.post("/webhook")
def post_sensor_event(body: SensorEventBody, service: RunService = Depends(get_service)) -> dict[str, str]:  # noqa: B008
    """Store the event for sensor checks of its ``sensor_event_type`` (422 for another body)."""
    record_sensor_event(service.store, body.sensor_event_type, body.sensor_event)
    return {"message": "Event stored"}
