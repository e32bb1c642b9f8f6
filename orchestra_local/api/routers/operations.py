"""Operations (dbt nodes, table loads, queries) across runs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from orchestra_local.api import params
from orchestra_local.api.deps import get_service, require_token
from orchestra_local.api.records import operation_record, page_record
from orchestra_local.api.service import RunService
from orchestra_local.spec.statuses import OperationStatus
from orchestra_local.store import queries

router = APIRouter(tags=["operations"], dependencies=[Depends(require_token)])


@router.get("/operations")
def list_operations(
    window: params.Window, paging: params.ListPage, operation_type: params.OperationTypes = "",
    integration: params.Integration = None, status: OperationStatus | None = None,
    task_run_id: params.OptionalUuid = None, external_id: str | None = None,
    service: RunService = Depends(get_service),  # noqa: B008
) -> dict[str, Any]:
    """Operations, newest first, filtered as Orchestra's ``GET /operations`` (bad values: 422)."""
    result = queries.operations(
        service.store, window=window, page=paging.page, page_size=paging.page_size,
        operation_types=operation_type, integration=integration,  # type: ignore[arg-type]
        status=status.value if status is not None else None, task_run_id=task_run_id, external_id=external_id,
    )
    return page_record(result, operation_record)
