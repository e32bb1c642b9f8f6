"""Sensor check types and integration state, as Orchestra's API lists them.

``GET /sensor_checks/`` lists the check types the local scheduler evaluates
(``scheduling/sensor_checks``) as ``SensorCheckSchemaResponse`` records, their parameters as form
items; ``GET /state/{integration}`` answers the documented empty state, as the runner keeps no
per-integration state **(our choice)**, so a client written for hosted Orchestra (its metadata
loader, orchestra-mcp) works unchanged.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from orchestra_local.api.deps import require_token
from orchestra_local.api.integration_records import display_name, job_schema
from orchestra_local.api.params import RequiredIntegration
from orchestra_local.scheduling.sensor_checks import CHECKS

router = APIRouter(tags=["state"], dependencies=[Depends(require_token)])


@router.get("/sensor_checks/")
def list_sensor_checks() -> list[dict[str, Any]]:
    """``SensorCheckSchemaResponse`` of each sensor check type the runner evaluates, by id."""
    return [{"id": kind.sensor_type, "displayName": display_name(kind.sensor_type), "description": kind.description,
             "integration": kind.integration, "status": "RELEASE", "sensorSchema": job_schema(kind.parameters),
             "outputKeys": list(kind.output_keys)} for _id, kind in sorted(CHECKS.items())]


@router.get("/state/{integration}")
def get_state(integration: RequiredIntegration) -> dict[str, Any]:
    """``StateApiModel`` of an integration: always ``{"state": {}}`` locally."""
    return {"state": {}}
