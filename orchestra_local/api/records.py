"""Store rows -> the camelCase records of Orchestra's public API.

Field sets follow the ``PipelineRunResponse``, ``TaskRunResponse``, ``OperationResponse`` and
``PipelineResponse`` schemas of Orchestra's OpenAPI document (orchestra-spec section 7).
Timestamps are ISO 8601 strings in UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic.alias_generators import to_camel


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC (``2024-01-01T08:00:00.123456+00:00``), or None."""
    return value.isoformat() if value is not None else None


def _camel(row: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {to_camel(name): iso(row[name]) if isinstance(row.get(name), datetime) else row.get(name) for name in fields}


PIPELINE_RUN_FIELDS = (
    "id", "pipeline_id", "pipeline_name", "account_id", "env_id", "env_name", "run_status", "message", "created_at",
    "updated_at", "started_at", "completed_at", "branch", "commit", "pipeline_version_number", "triggered_by",
)
TASK_RUN_FIELDS = (
    "id", "pipeline_run_id", "pipeline_id", "task_id", "task_name", "account_id", "integration", "integration_job",
    "status", "message", "external_status", "external_message", "platform_link", "task_parameters", "run_parameters",
    "connection_id", "number_of_attempts", "matrix_parent", "matrix_parent_id", "depends_on", "created_at",
    "updated_at", "started_at", "completed_at",
)
OPERATION_FIELDS = (
    "id", "account_id", "pipeline_run_id", "task_run_id", "inserted_at", "message", "operation_name",
    "operation_status", "operation_type", "external_id", "external_status", "external_detail", "integration",
    "integration_job", "started_at", "completed_at", "dependencies", "operation_duration", "rows_affected",
    "asset_external_id", "meta",
)


def pipeline_run_record(row: dict[str, Any]) -> dict[str, Any]:
    """A pipeline run as ``PipelineRunResponse`` (``data`` carries the run inputs and the local alias)."""
    record = _camel(row, PIPELINE_RUN_FIELDS)
    record["triggeredBy"] = row.get("triggered_by") or []
    record["childPipelineRuns"] = []
    record["data"] = {"runInputs": row.get("run_inputs") or {}, "alias": row.get("pipeline_alias"),
                      "yamlPath": row.get("yaml_path")}
    return record


def task_run_record(row: dict[str, Any]) -> dict[str, Any]:
    """A task run as ``TaskRunResponse``."""
    record = _camel(row, TASK_RUN_FIELDS)
    record["taskName"] = row.get("task_name") or row["task_id"]
    record["taskParameters"] = row.get("task_parameters") or {}
    record["runParameters"] = row.get("run_parameters") or {}
    return record


def operation_record(row: dict[str, Any]) -> dict[str, Any]:
    """An operation as ``OperationResponse``."""
    record = _camel(row, OPERATION_FIELDS)
    record["dependencies"] = row.get("dependencies") or []
    return record


def page_record(page: Any, render: Any) -> dict[str, Any]:
    """``{page, pageSize, total, results}`` of a :class:`~orchestra_local.store.queries.Page`."""
    return {"page": page.page, "pageSize": page.page_size, "total": page.total,
            "results": [render(row) for row in page.results]}
