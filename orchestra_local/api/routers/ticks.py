"""Ticks: every evaluation of a schedule, and what it did (a local endpoint; Orchestra has none).

``GET /ticks`` answers "why did (or didn't) this pipeline run?" for tools and scripts, as
``orchestra-local ticks`` does on the terminal.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from orchestra_local.api import params
from orchestra_local.api.deps import get_service, require_token
from orchestra_local.api.records import page_record, tick_record
from orchestra_local.api.service import RunService
from orchestra_local.store import queries

router = APIRouter(tags=["ticks"], dependencies=[Depends(require_token)])


@router.get("/ticks")
def list_ticks(
    window: params.Window, paging: params.ListPage, pipelines: str = "", outcome: params.TickOutcomes = "",
    service: RunService = Depends(get_service),  # noqa: B008
) -> dict[str, Any]:
    """Ticks scheduled in the window (``time_from``/``time_to``, default the last 7 days), newest first.

    ``pipelines``: comma-separated pipeline ids or aliases; ``outcome``: STARTED, SKIPPED,
    TIMED_OUT, FAILED (comma-separated). Pages as the other list endpoints (``page``, ``page_size`` ≤ 100).
    """
    result = queries.ticks(
        service.store, window=window, page=paging.page, page_size=paging.page_size,
        pipelines=[name.strip() for name in pipelines.split(",") if name.strip()],
        outcomes=outcome,  # type: ignore[arg-type]
    )
    return page_record(result, tick_record)
