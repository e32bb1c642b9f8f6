"""The alert outbox: rows written with the statuses that caused them, claimed and settled by deliverers.

A deliverer claims a due row by a conditional UPDATE (state and attempt count unchanged since it
read them), so two deliverers (``serve`` and ``alerts deliver``, two ``serve`` processes on one
PostgreSQL) never send the same attempt twice; a claim is a lease until ``next_attempt_at``, after
which a row whose deliverer died is due again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update

from orchestra_local.store.repository import ALERT_OUTBOX, RunStore

OPEN_STATES = ("PENDING", "SENDING")
FINAL_STATES = ("DELIVERED", "DEAD", "REMOTE_ONLY")


def due_alerts(store: RunStore, now: datetime, limit: int = 100,
               pipeline_run_id: str | None = None) -> list[dict[str, Any]]:
    """Rows to attempt now (PENDING, or SENDING with an expired lease), oldest first; of one run if given."""
    c = ALERT_OUTBOX.c
    statement = select(ALERT_OUTBOX).where(c.state.in_(OPEN_STATES), c.next_attempt_at <= now)
    if pipeline_run_id is not None:
        statement = statement.where(c.pipeline_run_id == pipeline_run_id)
    return store.read(statement.order_by(c.created_at).limit(limit))


def claim_alert(store: RunStore, row: Mapping[str, Any], now: datetime, lease: timedelta) -> bool:
    """Take ``row`` for one attempt (SENDING until ``now + lease``); False when another deliverer took it."""
    c = ALERT_OUTBOX.c
    changed = store.execute(update(ALERT_OUTBOX)
                            .where(c.id == row["id"], c.state == row["state"], c.attempts == row["attempts"])
                            .values(state="SENDING", attempts=row["attempts"] + 1, next_attempt_at=now + lease))
    return changed == 1


def settle_alert(store: RunStore, alert_id: str, attempt: int, *, state: str, error: str | None = None,
                 next_attempt_at: datetime | None = None, delivered_at: datetime | None = None) -> bool:
    """Record the outcome of attempt number ``attempt``: DELIVERED, DEAD, REMOTE_ONLY, or PENDING again
    at ``next_attempt_at``. False (nothing written) when the row is no longer this attempt's: its lease
    ran out and another deliverer claimed it."""
    values: dict[str, Any] = {"state": state, "last_error": error, "delivered_at": delivered_at}
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    c = ALERT_OUTBOX.c
    return store.execute(update(ALERT_OUTBOX).where(c.id == alert_id, c.state == "SENDING", c.attempts == attempt)
                         .values(**values)) == 1


def list_alerts(store: RunStore, pipeline_run_id: str | None = None, states: tuple[str, ...] = (),
                limit: int = 50) -> list[dict[str, Any]]:
    """The latest outbox rows (newest first), of one pipeline run and/or in ``states``."""
    c = ALERT_OUTBOX.c
    statement = select(ALERT_OUTBOX).order_by(c.created_at.desc()).limit(limit)
    if pipeline_run_id is not None:
        statement = statement.where(c.pipeline_run_id == pipeline_run_id)
    if states:
        statement = statement.where(or_(*(c.state == state for state in states)))
    return store.read(statement)
