"""Assets: the tables the runs wrote (``GET /assets``, ``GET /assets/{asset_id}``), see ``store/assets.py``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path

from orchestra_local.api import params
from orchestra_local.api.deps import get_service, require_token
from orchestra_local.api.records import iso, page_record
from orchestra_local.api.service import RunService
from orchestra_local.store import assets as store_assets
from orchestra_local.store.repository import LOCAL_ACCOUNT_ID

router = APIRouter(tags=["assets"], dependencies=[Depends(require_token)])


def asset_record(asset: dict[str, Any]) -> dict[str, Any]:
    """An asset as Orchestra's ``AssetResponse``; ``meta`` names the operation that last wrote it."""
    last = asset["last_operation"]
    return {
        "assetId": asset["asset_id"], "integration": asset["integration"], "accountId": LOCAL_ACCOUNT_ID,
        "assetName": asset["asset_name"], "assetType": asset["asset_type"], "integrationAccountId": "local",
        "databaseName": asset["database_name"], "schemaName": asset["schema_name"], "tableName": asset["table_name"],
        "externalId": asset["external_id"], "status": asset["status"], "createdAt": iso(asset["created_at"]),
        "updatedAt": iso(asset["updated_at"]), "createdInIntegration": iso(asset["created_at"]),
        "lastUpdatedInIntegration": iso(asset["updated_at"]), "lastSuccessfulRun": iso(asset["last_successful_run"]),
        "rowCount": asset["row_count"],
        "meta": {
            "lastOperationId": last["id"], "lastOperationType": last["operation_type"],
            "lastOperationStatus": last["operation_status"], "lastTaskRunId": last["task_run_id"],
            "lastPipelineRunId": last["pipeline_run_id"], "rowCountSource": "rows written by the last successful operation",
        },
    }


@router.get("/assets")
def list_assets(
    paging: params.ListPage, asset_type: params.AssetTypes = "", integration: params.Integration = None,
    integration_account_id: str | None = None, workspace_id: str | None = None, database_name: str | None = None,
    schema_name: str | None = None, status: params.AssetStatuses = "", asset_ids: params.UuidCsv | None = None,
    sort_column: Literal["asset_name", "asset_type", "status", "integration", "created_in_integration",
                         "last_updated_in_integration"] = "created_in_integration",
    sort_direction: Literal["asc", "desc"] = "desc",
    service: RunService = Depends(get_service),  # noqa: B008
) -> dict[str, Any]:
    """Tables written by worker loads and dbt builds, ``{page, pageSize, total, results}``."""
    filters = store_assets.AssetFilter(
        asset_types=asset_type, integration=integration, database_name=database_name,  # type: ignore[arg-type]
        schema_name=schema_name, statuses=status, asset_ids=asset_ids or (),  # type: ignore[arg-type]
        integration_account_id=integration_account_id, workspace_id=workspace_id,
    )
    result = store_assets.assets(service.store, filters=filters, sort_column=sort_column,
                                 descending=sort_direction == "desc", page=paging.page, page_size=paging.page_size)
    return page_record(result, asset_record)


@router.get("/assets/{asset_id}")
def get_asset(
    asset_id: Annotated[str, Path(max_length=512, description="Asset ID or external ID.")],
    service: RunService = Depends(get_service),  # noqa: B008
) -> dict[str, Any]:
    """One asset by its id or its external id (e.g. ``raw.orders``); 404 when no operation wrote it."""
    for asset in store_assets.derive_assets(service.store):
        if asset_id in (asset["asset_id"], asset["external_id"]):
            return asset_record(asset)
    raise HTTPException(status_code=404, detail="Asset not found")
