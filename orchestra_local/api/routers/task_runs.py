"""Task runs across pipeline runs, and deciding APPROVAL tasks (a local extension)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException
from pydantic import BaseModel

from orchestra_local.api import params
from orchestra_local.api.deps import get_service, require_token
from orchestra_local.api.records import page_record, task_run_record
from orchestra_local.api.service import RunService
from orchestra_local.errors import StoreError
from orchestra_local.store import queries

router = APIRouter(tags=["task runs"], dependencies=[Depends(require_token)])


@router.get("/task_runs")
def list_task_runs(
    window: params.Window, paging: params.ListPage, status: params.TaskRunStatuses = "",
    integration: params.IntegrationsCsv = "", pipeline_ids: params.UuidCsv = "", task_run_ids: params.UuidCsv = "",
    service: RunService = Depends(get_service),  # noqa: B008
) -> dict[str, Any]:
    """Task runs, newest first, filtered as Orchestra's ``GET /task_runs`` (bad values: 422)."""
    result = queries.task_runs(
        service.store, window=window, page=paging.page, page_size=paging.page_size,
        statuses=status, integrations=integration, pipeline_ids=pipeline_ids,  # type: ignore[arg-type]
        task_run_ids=task_run_ids,  # type: ignore[arg-type]
    )
    return page_record(result, task_run_record)


class Decision(BaseModel):
    """Body of an approval decision."""

    approved: bool
    message: str | None = None


@router.post("/task_runs/{task_run_id}/approval", status_code=200)
def decide_approval(task_run_id: params.TaskRunId, decision: Decision = Body(...),  # noqa: B008
                    service: RunService = Depends(get_service)) -> dict[str, Any]:  # noqa: B008
    """Approve or reject a waiting ORCHESTRA/APPROVAL task (local only; hosted Orchestra uses its UI)."""
    try:
        service.store.decide_approval(task_run_id, approved=decision.approved, message=decision.message)
    except StoreError as exc:
        status = 404 if "no task run" in str(exc) else 400
        raise HTTPException(status_code=status, detail=str(exc)) from None
    return {"message": "approved" if decision.approved else "rejected"}
