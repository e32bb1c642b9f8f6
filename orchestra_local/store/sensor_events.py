"""Sensor events: what ``ORCHESTRA_WEBHOOK_EVENT`` sensor checks wait for.

A client POSTs ``{"event_type": "SENSOR_EVENT", "sensor_event_type": "<type>", "sensor_event":
{...}}`` to the webhook (``POST /webhook`` of ``orchestra-local serve``, as to Orchestra's
``https://webhook.getorchestra.io``); :func:`record_sensor_event` keeps it, and a check of that
type passes when an event arrived since its window opened (:func:`latest_sensor_event`). As on
Orchestra (its "Webhook events sensor" page), events are kept :data:`RETENTION` and only the most
recent one counts.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from orchestra_local.store.models import SENSOR_EVENTS
from orchestra_local.store.repository import RunStore, utcnow

RETENTION = timedelta(days=7)
"""How long an event is kept (Orchestra: 7 days)."""
TYPE_LENGTH = 200
"""Longest ``sensor_event_type`` accepted, in characters."""


def record_sensor_event(store: RunStore, event_type: str, event: dict[str, Any]) -> str:
    """Keep one event (and drop those older than :data:`RETENTION`); returns its id.

    Raises:
        ValueError: ``event_type`` empty or longer than :data:`TYPE_LENGTH` characters.
        StoreError: The write failed.
    """
    if not event_type or len(event_type) > TYPE_LENGTH:
        raise ValueError(f"sensor_event_type must be 1 to {TYPE_LENGTH} characters")
    now = utcnow()
    event_id = str(uuid.uuid4())
    store.insert_once(SENSOR_EVENTS, {"id": event_id, "sensor_event_type": event_type, "sensor_event": event,
                                      "received_at": now})
    store.execute(delete(SENSOR_EVENTS).where(SENSOR_EVENTS.c.received_at < now - RETENTION))
    return event_id


def latest_sensor_event(store: RunStore, event_type: str, since: datetime | None) -> dict[str, Any] | None:
    """The most recent event of ``event_type`` received at or after ``since`` (None: within the
    retention), as ``{id, sensor_event_type, sensor_event, received_at}``; None when there is none."""
    floor = max(since, utcnow() - RETENTION) if since is not None else utcnow() - RETENTION
    rows = store.read(select(SENSOR_EVENTS)
                      .where(SENSOR_EVENTS.c.sensor_event_type == event_type, SENSOR_EVENTS.c.received_at >= floor)
                      .order_by(SENSOR_EVENTS.c.received_at.desc()).limit(1))
    return rows[0] if rows else None
