"""Filtered, paginated reads of the run store, as Orchestra's list endpoints offer them.

Filters follow orchestra-contract section 7: comma-separated values, a time window on the record's
creation time (``time_from``/``time_to``, default: the last 7 days). Orchestra refuses windows
longer than 7 days; locally any window is allowed **(our choice)**, which analytics over a long
local history needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Column, Select, func, select

from orchestra_local.store.repository import OPERATIONS, PIPELINE_RUNS, TASK_RUNS, RunStore, utcnow
from orchestra_local.store.ticks import TICKS

DEFAULT_WINDOW = timedelta(days=7)
EARLIEST = datetime(1000, 1, 1, tzinfo=UTC)
"""Window ends earlier than this are read as this: MySQL/MariaDB ``DATETIME`` starts at year 1000,
and no run is older."""


@dataclass(frozen=True)
class Page:
    """One page of results: ``{page, pageSize, total, results}`` in the API."""

    page: int
    page_size: int
    total: int
    results: list[dict[str, Any]]


@dataclass(frozen=True)
class Window:
    """A creation-time window (timezone-aware UTC)."""

    start: datetime
    end: datetime

    @classmethod
    def of(cls, time_from: datetime | None, time_to: datetime | None) -> Window:
        """The window; missing ends default to the 7 days before ``time_to`` or now.

        Args:
            time_from: Aware start, or None.
            time_to: Aware end, or None.

        Both ends are clamped to :data:`EARLIEST` or later, so any datetime Python can hold
        (year 1 included) gives a window every supported database can compare with.
        """
        end = max(time_to or utcnow(), EARLIEST)
        start = time_from if time_from is not None else max(end, EARLIEST + DEFAULT_WINDOW) - DEFAULT_WINDOW
        return cls(start=max(start, EARLIEST), end=end)


def _in(column: Column[Any], values: Sequence[str]) -> Any:
    return column.in_(list(values))


def _paginate(store: RunStore, statement: Select[Any], order: Any, page: int, page_size: int) -> Page:
    total = store.count(select(func.count()).select_from(statement.subquery()))
    rows = store.read(statement.order_by(order).limit(page_size).offset((page - 1) * page_size))
    return Page(page=page, page_size=page_size, total=total, results=rows)


def pipeline_runs(
    store: RunStore, *, window: Window, page: int, page_size: int, statuses: Sequence[str] = (),
    pipeline_ids: Sequence[str] = (), pipeline_run_ids: Sequence[str] = (), environments: Sequence[str] = (),
) -> Page:
    """Pipeline runs, newest first."""
    c = PIPELINE_RUNS.c
    statement = select(PIPELINE_RUNS).where(c.created_at >= window.start, c.created_at <= window.end)
    if statuses:
        statement = statement.where(_in(c.run_status, statuses))
    if pipeline_ids:
        statement = statement.where(_in(c.pipeline_id, pipeline_ids))
    if pipeline_run_ids:
        statement = statement.where(_in(c.id, pipeline_run_ids))
    if environments:
        statement = statement.where(_in(c.env_id, environments) | _in(c.env_name, environments))
    return _paginate(store, statement, c.created_at.desc(), page, page_size)


def task_runs(
    store: RunStore, *, page: int, page_size: int, window: Window | None = None, pipeline_run_id: str | None = None,
    statuses: Sequence[str] = (), integrations: Sequence[str] = (), pipeline_ids: Sequence[str] = (),
    task_run_ids: Sequence[str] = (),
) -> Page:
    """Task runs; of one pipeline run in plan order, otherwise newest first."""
    c = TASK_RUNS.c
    statement = select(TASK_RUNS)
    if pipeline_run_id is not None:
        statement = statement.where(c.pipeline_run_id == pipeline_run_id)
    if window is not None:
        statement = statement.where(c.created_at >= window.start, c.created_at <= window.end)
    if statuses:
        statement = statement.where(_in(c.status, statuses))
    if integrations:
        statement = statement.where(_in(c.integration, integrations))
    if pipeline_ids:
        statement = statement.where(_in(c.pipeline_id, pipeline_ids))
    if task_run_ids:
        statement = statement.where(_in(c.id, task_run_ids))
    order = c.position if pipeline_run_id is not None else c.created_at.desc()
    return _paginate(store, statement, order, page, page_size)


def operations(
    store: RunStore, *, window: Window, page: int, page_size: int, operation_types: Sequence[str] = (),
    integration: str | None = None, status: str | None = None, task_run_id: str | None = None,
    external_id: str | None = None,
) -> Page:
    """Operations, newest first."""
    c = OPERATIONS.c
    statement = select(OPERATIONS).where(c.inserted_at >= window.start, c.inserted_at <= window.end)
    if operation_types:
        statement = statement.where(_in(c.operation_type, operation_types))
    if integration:
        statement = statement.where(c.integration == integration)
    if status:
        statement = statement.where(c.operation_status == status)
    if task_run_id:
        statement = statement.where(c.task_run_id == task_run_id)
    if external_id:
        statement = statement.where(c.external_id == external_id)
    return _paginate(store, statement, c.inserted_at.desc(), page, page_size)


def ticks(store: RunStore, *, window: Window, page: int, page_size: int, pipelines: Sequence[str] = (),
          outcomes: Sequence[str] = ()) -> Page:
    """Ticks (``store/ticks.py``) whose scheduled time is in the window, newest first (a local endpoint).

    Args:
        pipelines: Pipeline ids or aliases (either matches).
        outcomes: ``TickOutcome`` values.
    """
    c = TICKS.c
    statement = select(TICKS).where(c.scheduled_for >= window.start, c.scheduled_for <= window.end)
    if pipelines:
        statement = statement.where(_in(c.pipeline_id, pipelines) | _in(c.pipeline_alias, pipelines))
    if outcomes:
        statement = statement.where(_in(c.outcome, outcomes))
    return _paginate(store, statement, c.scheduled_for.desc(), page, page_size)
