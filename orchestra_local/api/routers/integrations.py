"""Integrations, their jobs and the configured connections (``GET /integrations/...``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from orchestra_local.api import params
from orchestra_local.api.deps import get_service, require_token
from orchestra_local.api.environment_records import connection_record
from orchestra_local.api.integration_records import all_integrations, integration_record, job_records
from orchestra_local.api.service import RunService

router = APIRouter(tags=["integrations"], dependencies=[Depends(require_token)])


@router.get("/integrations/")
def list_integrations() -> list[dict[str, Any]]:
    """Every integration Orchestra declares, tagged ``local`` or ``remote-only``."""
    return all_integrations()


@router.get("/integrations/jobs")
def list_integration_jobs() -> list[dict[str, Any]]:
    """The jobs this runner executes, with their parameters as ``jobSchema``."""
    return job_records()


@router.get("/integrations/connections")
def list_connections(
    request: Request, integration: params.Integration = None,
    auth_status: str | None = Query(None, alias="authStatus", pattern="^(INITIATED|VALIDATING|FAILED|SUCCEEDED|DEPRECATED)$"),
    service: RunService = Depends(get_service),  # noqa: B008
) -> list[dict[str, Any]]:
    """Connections of the connections file (names and integrations only; never a field value)."""
    loaded_at: str = request.app.state.loaded_at
    records = [connection_record(c, loaded_at) for c in service.workspace.connections.values()]
    return [r for r in records if (integration is None or r["integration"] == integration)
            and (auth_status is None or r["authStatus"] == auth_status)]


@router.get("/integrations/{integration}")
def get_integration(integration: params.RequiredIntegration) -> dict[str, Any]:
    """One integration of Orchestra's ``IntegrationsEnum`` (422 for any other name)."""
    return integration_record(integration)
