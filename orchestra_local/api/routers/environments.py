"""Environments of the environments file (``GET /environments``, ``GET /environments/{id}``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request

from orchestra_local.api import environment_records as records
from orchestra_local.api.deps import get_service, require_token
from orchestra_local.api.params import RequiredUuid
from orchestra_local.api.service import RunService

router = APIRouter(tags=["environments"], dependencies=[Depends(require_token)])


@router.get("/environments")
def list_environments(service: RunService = Depends(get_service)) -> list[dict[str, Any]]:  # noqa: B008
    """Every environment, metadata only (``ProtectedEnvironmentsResponse``), sorted by name."""
    return [records.environment_summary(name, env) for name, env in sorted(service.workspace.environments.items())]


@router.get("/environments/{environment_id}")
def get_environment(
    request: Request, environment_id: RequiredUuid,
    service: RunService = Depends(get_service),  # noqa: B008
) -> dict[str, Any]:
    """One environment with its values (secret-looking ones masked); 404 when no environment has that id."""
    for name, environment in service.workspace.environments.items():
        if records.environment_id(name) == environment_id:
            return records.environment_record(name, environment, request.app.state.loaded_at, service.workspace.masker)
    raise HTTPException(status_code=404, detail="Environment not found")
