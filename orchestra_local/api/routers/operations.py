"""Operations (dbt nodes, table loads, queries) across runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query

from orchestra_local.api.deps import get_service, require_token
from orchestra_local.api.records import operation_record, page_record
from orchestra_local.api.routers.pipeline_runs import csv
from orchestra_local.api.service import RunService
from orchestra_local.spec.statuses import OperationStatus
from orchestra_local.store import queries

router = APIRouter(tags=["operations"], dependencies=[Depends(require_token)])


@router.get("/operations")
def list_operations(
    operation_type: str = "", integration: str | None = None, status: OperationStatus | None = None,
    task_run_id: str | None = None, external_id: str | None = None,
    time_from: datetime | None = None, time_to: datetime | None = None,
    page: int = Query(1, ge=1), page_size: int = Query(50, ge=1, le=100),
    service: RunService = Depends(get_service),  # noqa: B008
) -> dict[str, Any]:
    """Operations, newest first, filtered as Orchestra's ``GET /operations``."""
    result = queries.operations(
        service.store, window=queries.Window.of(time_from, time_to), page=page, page_size=page_size,
        operation_types=csv(operation_type), integration=integration,
        status=status.value if status is not None else None, task_run_id=task_run_id, external_id=external_id,
    )
    return page_record(result, operation_record)
