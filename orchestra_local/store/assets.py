"""Assets (tables) derived from the operations that wrote them, as ``GET /assets`` lists them.

Orchestra's metadata loader reads ``GET /assets`` beside runs and operations. Locally an asset is
a table some task wrote, found in the ``operations`` table **(our choice: hosted discovers assets
by scanning the integrations' accounts)**:

- worker ``INGESTION`` operations: ``externalId`` is the destination table (``raw.orders``);
- dbt ``MATERIALISATION``, ``SEED`` and ``SNAPSHOT`` operations: the relation name from the
  manifest (``"db"."schema"."table"``), or the node's ``unique_id`` when there is none.

Per asset: the first and last operation that wrote it (``createdAt``/``updatedAt``), the last
successful one (``lastSuccessfulRun``), its status from the last operation (SUCCEEDED ->
HEALTHY, WARNING -> WARNING, FAILED -> UNHEALTHY, else UNKNOWN), and ``rowCount`` = the rows the
last successful operation wrote (the table's row count after a full load or a table build; after
an incremental load, only that load's rows; ``meta.rowCountSource`` says so).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from orchestra_local.store.queries import Page
from orchestra_local.store.repository import OPERATIONS, RunStore

WRITING_OPERATIONS = ("INGESTION", "MATERIALISATION", "SEED", "SNAPSHOT")
ASSET_NAMESPACE = uuid.UUID("5d0c4b8e-7f0a-4c3e-9a7d-2b6e1f3c8a90")
STATUS_OF_OPERATION = {"SUCCEEDED": "HEALTHY", "WARNING": "WARNING", "FAILED": "UNHEALTHY"}
_IDENTIFIER = re.compile(r'"((?:[^"]|"")*)"|`([^`]*)`|([^."`]+)')
SORT_KEYS = {
    "asset_name": "asset_name", "asset_type": "asset_type", "status": "status", "integration": "integration",
    "created_in_integration": "created_at", "last_updated_in_integration": "updated_at",
}


def asset_id(external_id: str) -> str:
    """The stable id of an asset (uuid5 of its external id)."""
    return str(uuid.uuid5(ASSET_NAMESPACE, external_id))


def split_relation(name: str) -> tuple[str | None, str | None, str]:
    """``"db"."schema"."table"`` / ``schema.table`` / ``table`` -> (database, schema, table)."""
    parts = [next(g for g in match.groups() if g is not None).replace('""', '"')
             for match in _IDENTIFIER.finditer(name)]
    parts = parts[-3:] or [name]
    padded: list[str | None] = [None] * (3 - len(parts)) + list(parts)
    return padded[0], padded[1], str(padded[2])


@dataclass(frozen=True)
class AssetFilter:
    """Filters of ``GET /assets`` (empty: no filter)."""

    asset_types: Sequence[str] = ()
    integration: str | None = None
    database_name: str | None = None
    schema_name: str | None = None
    statuses: Sequence[str] = ()
    asset_ids: Sequence[str] = ()
    integration_account_id: str | None = None
    workspace_id: str | None = None

    def keeps(self, asset: dict[str, Any]) -> bool:
        """Whether an asset passes every filter."""
        return (
            (not self.asset_types or asset["asset_type"] in self.asset_types)
            and (self.integration is None or asset["integration"] == self.integration)
            and (self.database_name is None or asset["database_name"] == self.database_name)
            and (self.schema_name is None or asset["schema_name"] == self.schema_name)
            and (not self.statuses or asset["status"] in self.statuses)
            and (not self.asset_ids or asset["asset_id"] in self.asset_ids)
            and (self.integration_account_id is None or self.integration_account_id == "local")
            and self.workspace_id is None  # local assets belong to no integration workspace
        )


def _asset_type(operation: dict[str, Any]) -> str:
    materialized = str((operation.get("meta") or {}).get("materialized") or "").lower()
    if operation["operation_type"] == "MATERIALISATION":
        return {"view": "VIEW", "table": "TABLE", "incremental": "TABLE"}.get(materialized, "UNKNOWN")
    return "TABLE"


def derive_assets(store: RunStore) -> list[dict[str, Any]]:
    """Every asset, one per external id, from the writing operations (snake_case dicts)."""
    c = OPERATIONS.c
    statement = (select(OPERATIONS)  # an operation no integration claims cannot name the asset's
                 .where(c.operation_type.in_(WRITING_OPERATIONS), c.integration.is_not(None))
                 .order_by(c.inserted_at, c.id))
    assets: dict[str, dict[str, Any]] = {}
    for operation in store.read(statement):
        external_id = operation["asset_external_id"] or operation["external_id"]
        database, schema, table = split_relation(external_id)
        asset = assets.setdefault(external_id, {
            "asset_id": asset_id(external_id), "external_id": external_id, "asset_name": table,
            "table_name": table, "database_name": database, "schema_name": schema,
            "created_at": operation["inserted_at"], "last_successful_run": None, "row_count": None,
        })
        succeeded = operation["operation_status"] in ("SUCCEEDED", "WARNING")
        asset.update({
            "asset_type": _asset_type(operation), "integration": operation["integration"],
            "status": STATUS_OF_OPERATION.get(operation["operation_status"], "UNKNOWN"),
            "updated_at": operation["inserted_at"], "last_operation": operation,
        })
        if succeeded:
            asset["last_successful_run"] = operation["completed_at"] or operation["inserted_at"]
            asset["row_count"] = operation["rows_affected"]
    return list(assets.values())


def assets(store: RunStore, *, filters: AssetFilter, sort_column: str, descending: bool, page: int,
           page_size: int) -> Page:
    """One page of assets, filtered and sorted (ties broken by external id).

    Args:
        store: The run store.
        filters: What to keep.
        sort_column: A key of :data:`SORT_KEYS` (the OpenAPI's ``sort_column`` values).
        descending: Sort direction.
        page: 1-based page number.
        page_size: Assets per page.
    """
    kept = [asset for asset in derive_assets(store) if filters.keeps(asset)]
    key = SORT_KEYS[sort_column]
    kept.sort(key=lambda asset: asset["external_id"])
    kept.sort(key=lambda asset: (asset[key] is not None, asset[key]), reverse=descending)
    start = (page - 1) * page_size
    return Page(page=page, page_size=page_size, total=len(kept), results=kept[start:start + page_size])
