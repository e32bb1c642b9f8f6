"""Task runs across pipeline runs, and deciding APPROVAL tasks (a local extension)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query
from pydantic import BaseModel

from orchestra_local.api.deps import get_service, require_token
from orchestra_local.api.records import page_record, task_run_record
from orchestra_local.api.routers.pipeline_runs import csv
from orchestra_local.api.service import RunService
from orchestra_local.errors import StoreError
from orchestra_local.store import queries

router = APIRouter(tags=["task runs"], dependencies=[Depends(require_token)])


@router.get("/task_runs")
def list_task_runs(
    status: str = "", integration: str = "", pipeline_ids: str = "", task_run_ids: str = "",
    time_from: datetime | None = None, time_to: datetime | None = None,
    page: int = Query(1, ge=1), page_size: int = Query(50, ge=1, le=100),
    service: RunService = Depends(get_service),  # noqa: B008
) -> dict[str, Any]:
    """Task runs, newest first, filtered as Orchestra's ``GET /task_runs``."""
    result = queries.task_runs(
        service.store, window=queries.Window.of(time_from, time_to), page=page, page_size=page_size,
        statuses=csv(status), integrations=csv(integration), pipeline_ids=csv(pipeline_ids),
        task_run_ids=csv(task_run_ids),
    )
    return page_record(result, task_run_record)


class Decision(BaseModel):
    """Body of an approval decision."""

    approved: bool
    message: str | None = None


@router.post("/task_runs/{task_run_id}/approval", status_code=200)
def decide_approval(task_run_id: str, decision: Decision = Body(...),  # noqa: B008
                    service: RunService = Depends(get_service)) -> dict[str, Any]:  # noqa: B008
    """Approve or reject a waiting ORCHESTRA/APPROVAL task (local only; hosted Orchestra uses its UI)."""
    try:
        service.store.decide_approval(task_run_id, approved=decision.approved, message=decision.message)
    except StoreError as exc:
        status = 404 if "no task run" in str(exc) else 400
        raise HTTPException(status_code=status, detail=str(exc)) from None
    return {"message": "approved" if decision.approved else "rejected"}
