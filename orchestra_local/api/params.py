"""Query and path parameters shared by the list and read endpoints, validated up front.

Every malformed value answers 422 ``{"detail": [{loc, msg, type, input}]}`` (FastAPI's shape, as
hosted Orchestra answers), never a 500 from deeper down. Bounds, each documented in the API's
OpenAPI schema and in ``orchestra_local/README.md``:

| parameter | accepted |
|---|---|
| ``page`` | 1 .. :data:`MAX_PAGE` **(our choice: hosted documents no maximum)** |
| ``page_size`` | 1 .. 100 (1 .. 50 for a run's task runs), as hosted |
| ``time_from``/``time_to`` | ISO 8601; a value without offset is read as UTC **(our choice)**; ``time_from`` <= ``time_to``; any span (hosted: 7 days at most) |
| ``status``, ``operation_type``, ``integration``, ``asset_type`` | comma-separated values of the OpenAPI enum |
| ids (``pipeline_ids``, ``task_run_id``, path ids, ...) | UUIDs (any version; hosted requires uuid4, local pipeline ids are uuid5) |
| any comma-separated filter | at most :data:`MAX_FILTER_VALUES` values **(our choice)** |
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, Path, Query
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from orchestra_local.spec.catalog import integrations
from orchestra_local.spec.statuses import OperationType, PipelineRunStatus, TaskRunStatus
from orchestra_local.store import queries
from orchestra_local.store.ticks import TickOutcome

MAX_PAGE = 1_000_000
"""Highest ``page`` accepted: offsets stay far inside a 64-bit integer whatever the page size."""
MAX_FILTER_VALUES = 1_000
"""Most comma-separated values in one filter: one SQL parameter each, far below SQLite's limit."""


def split(value: str) -> list[str]:
    """Split a comma-separated filter (empty -> no filter).

    Raises:
        PydanticCustomError: More than :data:`MAX_FILTER_VALUES` values (422 in a route).
    """
    parts = [part.strip() for part in value.split(",") if part.strip()]
    if len(parts) > MAX_FILTER_VALUES:
        raise PydanticCustomError("too_long", "At most {limit} comma-separated values, got {count}",
                                  {"limit": MAX_FILTER_VALUES, "count": len(parts)})
    return parts


def _one_of(allowed: Iterable[str], what: str) -> AfterValidator:
    choices = frozenset(allowed)

    def check(value: str) -> list[str]:
        parts = split(value)
        unknown = [part for part in parts if part not in choices]
        if unknown:
            raise PydanticCustomError(
                "enum", "Input should be comma-separated {what}; unknown: {unknown}",
                {"what": what, "unknown": ", ".join(unknown[:5])},
            )
        return parts

    return AfterValidator(check)


def _as_uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise PydanticCustomError("uuid_parsing", "Input should be a valid UUID, got {value!r}",
                                  {"value": value[:64]}) from None


def _uuids(value: str) -> list[str]:
    return [_as_uuid(part) for part in split(value)]


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError("datetime_range", "Input is outside the datetimes UTC can express") from None


def _values(enum: type[StrEnum]) -> AfterValidator:
    return _one_of((member.value for member in enum), f"{enum.__name__} values")


PipelineRunStatuses = Annotated[str, _values(PipelineRunStatus)]
"""Comma-separated ``PipelineRunStatus`` values -> ``list[str]`` (empty: no filter)."""
TaskRunStatuses = Annotated[str, _values(TaskRunStatus)]
"""Comma-separated ``TaskRunStatus`` values -> ``list[str]``."""
OperationTypes = Annotated[str, _values(OperationType)]
"""Comma-separated ``OperationType`` values -> ``list[str]``."""
TickOutcomes = Annotated[str, _values(TickOutcome)]
"""Comma-separated ``TickOutcome`` values (STARTED, SKIPPED, TIMED_OUT, FAILED) -> ``list[str]``."""
AssetTypes = Annotated[str, _one_of(("CHART", "DASHBOARD", "DASHBOARD_VIEWS", "DATASET", "QUERIES", "TABLE",
                                      "UNKNOWN", "VIEW", "WORKBOOK"), "AssetTypeEnum values")]
"""Comma-separated ``AssetTypeEnum`` values -> ``list[str]``."""
AssetStatuses = Annotated[str, _one_of(("HEALTHY", "UNHEALTHY", "UNKNOWN", "WARNING"), "AssetStatus values")]
"""Comma-separated ``AssetStatus`` values -> ``list[str]``."""
IntegrationsCsv = Annotated[str, _one_of(integrations(), "integrations (IntegrationsEnum)")]
"""Comma-separated integration names of Orchestra's ``IntegrationsEnum`` -> ``list[str]``."""
TextCsv = Annotated[str, AfterValidator(split)]
"""Comma-separated free-text values (environment names or ids) -> ``list[str]``."""
UuidCsv = Annotated[str, AfterValidator(_uuids)]
"""Comma-separated UUIDs -> ``list[str]`` in canonical lower-case form."""
OptionalUuid = Annotated[str | None, AfterValidator(lambda v: None if v is None else _as_uuid(v))]
"""One optional UUID (canonical form)."""
Timestamp = Annotated[datetime | None, AfterValidator(_utc)]
"""An ISO 8601 datetime, timezone-aware UTC (naive input is read as UTC)."""
RequiredUuid = Annotated[str, AfterValidator(_as_uuid)]
"""One UUID (canonical form); give it ``Path(...)``/``Query(...)`` where it is used."""
PipelineRunId = Annotated[str, Path(description="Pipeline run ID (a UUID)."), AfterValidator(_as_uuid)]
TaskRunId = Annotated[str, Path(description="Task run ID (a UUID)."), AfterValidator(_as_uuid)]


def integration_name(value: str | None) -> str | None:
    """Validate one optional integration name (a query parameter typed ``IntegrationsEnum``)."""
    if value is not None and value not in integrations():
        raise PydanticCustomError("enum", "Input should be an integration of IntegrationsEnum, got {value!r}",
                                  {"value": value[:64]})
    return value


Integration = Annotated[str | None, AfterValidator(integration_name)]
"""An optional ``IntegrationsEnum`` query parameter."""
RequiredIntegration = Annotated[str, Path(description="An integration of IntegrationsEnum."),
                                AfterValidator(integration_name)]
"""An ``IntegrationsEnum`` path parameter."""


@dataclass(frozen=True)
class PageRequest:
    """``page`` and ``page_size`` of a list request."""

    page: int
    page_size: int


def page_of(max_size: int, default_size: int) -> Any:
    """A dependency reading ``page`` (1..MAX_PAGE) and ``page_size`` (1..``max_size``)."""

    def dependency(
        page: int = Query(1, ge=1, le=MAX_PAGE, description=f"Page number, 1 to {MAX_PAGE}."),
        page_size: int = Query(default_size, ge=1, le=max_size,
                               description=f"Items per page. Defaults to {default_size}; maximum {max_size}."),
    ) -> PageRequest:
        return PageRequest(page=page, page_size=page_size)

    return dependency


ListPage = Annotated[PageRequest, Depends(page_of(100, 50))]
TaskRunsPage = Annotated[PageRequest, Depends(page_of(50, 10))]


def time_window(
    time_from: Annotated[Timestamp, Query(description="Start of the window (ISO 8601; no offset = UTC).")] = None,
    time_to: Annotated[Timestamp, Query(description="End of the window (ISO 8601; no offset = UTC).")] = None,
) -> queries.Window:
    """The creation-time window of a list request.

    Raises:
        RequestValidationError: ``time_from`` later than ``time_to`` (422).
    """
    if time_from is not None and time_to is not None and time_from > time_to:
        raise RequestValidationError([{
            "type": "value_error", "loc": ("query", "time_from"), "input": time_from.isoformat(),
            "msg": "time_from must not be later than time_to",
        }])
    return queries.Window.of(time_from, time_to)


Window = Annotated[queries.Window, Depends(time_window)]
