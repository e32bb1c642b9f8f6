"""Read endpoints of Orchestra's API that hold nothing locally: sensor checks, integration state.

They answer in the documented shape (an empty list, an empty state) rather than 404, so a client
written for hosted Orchestra (its metadata loader, orchestra-mcp) works unchanged against the
local runner, which evaluates no sensors and keeps no per-integration state **(our choice)**.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from orchestra_local.api.deps import require_token
from orchestra_local.api.params import RequiredIntegration

router = APIRouter(tags=["state"], dependencies=[Depends(require_token)])


@router.get("/sensor_checks/")
def list_sensor_checks() -> list[dict[str, Any]]:
    """Sensor check types the runner evaluates: none (sensors validate but do not run locally)."""
    return []


@router.get("/state/{integration}")
def get_state(integration: RequiredIntegration) -> dict[str, Any]:
    """``StateApiModel`` of an integration: always ``{"state": {}}`` locally."""
    return {"state": {}}
