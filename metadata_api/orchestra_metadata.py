"""A dlt ``rest_api`` source over Orchestra's run metadata: pipeline runs, task runs, operations.

Endpoints (``<base>/pipeline_runs``, ``/task_runs``, ``/operations`` of Orchestra's public API,
hosted or ``orchestra-local serve``; docs/orchestra-contract.md section 7) answer pages
``{page, pageSize, total, results}`` of at most 100 items, and only 7-day ``time_from``/``time_to``
windows. A ``windows`` resource yields those windows from the start of the load to now; each
table's resource resolves its time parameters from it and pages through it with dlt's page-number
paginator (it stops at the first empty page).

Tables and columns are the Orchestra Data App's (``pipeline_runs`` 16 columns, ``task_runs`` 22,
``operations`` 20, each with ``loaded_at``; JSON for ``task_parameters``, ``run_parameters`` and
``dependencies``), merged on ``id``. Loads are incremental on ``updated_at`` (``inserted_at`` for
operations): a record comes again only if it changed. Where windows start: the first load goes back
``since``; later ones to where the previous load ended, less ``lookback`` (so runs still running then
are seen again once they end).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from dlt.extract import DltResource
from dlt.sources.rest_api import rest_api_resources

import dlt

WINDOW = timedelta(days=7)
"""Longest ``time_from``..``time_to`` span the hosted API answers."""
PAGE_SIZE = 100
"""Largest ``page_size`` the hosted API answers."""
HOSTED_BASE_URL = "https://app.getorchestra.io/api/engine/public"

# Data App column -> (API field, dlt data type). ``None``: the API has no such field (always null).
PIPELINE_RUN_COLUMNS: dict[str, tuple[str | None, str]] = {
    "id": ("id", "text"), "pipeline_id": ("pipelineId", "text"), "pipeline_name": ("pipelineName", "text"),
    "account_id": ("accountId", "text"), "env_id": ("envId", "text"), "env_name": ("envName", "text"),
    "run_status": ("runStatus", "text"), "message": ("message", "text"), "created_at": ("createdAt", "timestamp"),
    "updated_at": ("updatedAt", "timestamp"), "completed_at": ("completedAt", "timestamp"),
    "started_at": ("startedAt", "timestamp"), "branch": ("branch", "text"), "commit": ("commit", "text"),
    "pipeline_version_number": ("pipelineVersionNumber", "bigint"),
}
TASK_RUN_COLUMNS: dict[str, tuple[str | None, str]] = {
    "id": ("id", "text"), "pipeline_run_id": ("pipelineRunId", "text"), "task_name": ("taskName", "text"),
    "task_id": ("taskId", "text"), "account_id": ("accountId", "text"), "pipeline_id": ("pipelineId", "text"),
    "integration": ("integration", "text"), "integration_job": ("integrationJob", "text"),
    "status": ("status", "text"), "message": ("message", "text"), "external_status": ("externalStatus", "text"),
    "external_message": ("externalMessage", "text"), "platform_link": ("platformLink", "text"),
    "task_parameters": ("taskParameters", "json"), "run_parameters": ("runParameters", "json"),
    "connection_id": ("connectionId", "text"), "number_of_attempts": ("numberOfAttempts", "bigint"),
    "created_at": ("createdAt", "timestamp"), "updated_at": ("updatedAt", "timestamp"),
    "completed_at": ("completedAt", "timestamp"), "started_at": ("startedAt", "timestamp"),
}
OPERATION_COLUMNS: dict[str, tuple[str | None, str]] = {
    "id": ("id", "text"), "account_id": ("accountId", "text"), "pipeline_run_id": ("pipelineRunId", "text"),
    "task_run_id": ("taskRunId", "text"), "inserted_at": ("insertedAt", "timestamp"), "message": ("message", "text"),
    "operation_name": ("operationName", "text"), "operation_status": ("operationStatus", "text"),
    "operation_type": ("operationType", "text"), "external_status": ("externalStatus", "text"),
    "external_detail": ("externalDetail", "text"), "external_id": ("externalId", "text"),
    "integration": ("integration", "text"), "integration_job": ("integrationJob", "text"),
    "started_at": ("startedAt", "timestamp"), "completed_at": ("completedAt", "timestamp"),
    "dependencies": ("dependencies", "json"), "operation_duration": ("operationDuration", "double"),
    "rows_affected": ("rowsAffected", "bigint"),
}
TABLES: dict[str, tuple[dict[str, tuple[str | None, str]], str]] = {
    "pipeline_runs": (PIPELINE_RUN_COLUMNS, "updated_at"),
    "task_runs": (TASK_RUN_COLUMNS, "updated_at"),
    "operations": (OPERATION_COLUMNS, "inserted_at"),
}
"""Table -> (its columns, the column it is incremental on: dlt applies the cursor after the projection)."""


def time_windows(start: datetime, end: datetime, span: timedelta = WINDOW) -> Iterator[dict[str, str]]:
    """``{"time_from", "time_to"}`` ISO 8601 (UTC) windows of at most ``span`` covering start..end."""
    moment = start
    while moment < end:
        until = min(moment + span, end)
        yield {"time_from": moment.astimezone(UTC).isoformat(), "time_to": until.astimezone(UTC).isoformat()}
        moment = until


def _projection(columns: dict[str, tuple[str | None, str]], loaded_at: datetime) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def project(record: dict[str, Any]) -> dict[str, Any]:
        row = {column: None if field is None else record.get(field) for column, (field, _) in columns.items()}
        row["loaded_at"] = loaded_at
        return row

    return project


def _column_hints(columns: dict[str, tuple[str | None, str]]) -> dict[str, dict[str, Any]]:
    hints = {column: {"data_type": data_type, "nullable": column != "id"} for column, (_, data_type) in columns.items()}
    hints["loaded_at"] = {"data_type": "timestamp", "nullable": False}
    return hints


@dlt.source(name="orchestra_metadata", max_table_nesting=0)
def orchestra_metadata(base_url: str, api_key: str, since: timedelta, lookback: timedelta = timedelta(days=1),
                       now: datetime | None = None) -> list[DltResource]:
    """The three tables, read window by window from ``base_url``.

    Args:
        base_url: The public API's base, e.g. ``https://app.getorchestra.io/api/engine/public``.
        api_key: Orchestra API key (bearer token).
        since: How far back the first load goes.
        lookback: How far before the end of the previous load a later load starts again.
        now: The end of the last window (default: the current time, UTC).
    """
    end = now or datetime.now(UTC)

    @dlt.resource(name="windows", selected=False)
    def windows() -> Iterator[dict[str, str]]:
        state = dlt.current.resource_state()
        start = end - since
        if state.get("loaded_until"):
            start = max(start, datetime.fromisoformat(state["loaded_until"]) - lookback)
        yield list(time_windows(start, end))  # one page: dependent resources iterate a page's items
        state["loaded_until"] = end.isoformat()

    window_params = {name: f"{{resources.windows.{name}}}" for name in ("time_from", "time_to")}
    resources: list[Any] = [windows()]
    for table, (columns, cursor) in TABLES.items():
        resources.append({
            "name": table,
            "columns": _column_hints(columns),
            "endpoint": {"path": table, "params": {**window_params, "page_size": PAGE_SIZE},
                         "incremental": {"cursor_path": cursor, "initial_value": "1970-01-01T00:00:00+00:00"}},
            "processing_steps": [{"map": _projection(columns, end)}],
        })
    return list(rest_api_resources({
        "client": {"base_url": base_url.rstrip("/") + "/", "auth": {"type": "bearer", "token": api_key},
                   "paginator": {"type": "page_number", "base_page": 1, "page_param": "page", "total_path": None}},
        "resource_defaults": {"primary_key": "id", "write_disposition": "merge",
                              "endpoint": {"data_selector": "results"}},
        "resources": resources,
    }))

