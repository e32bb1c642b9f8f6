"""The run viewer's pages (read-only; no route here writes to the store).

- ``GET /``: pipeline runs, newest first, filtered by pipeline, status and age (``?days=``).
- ``GET /runs/{id}``: one run: its Gantt timeline, task runs (status, attempts, duration, message,
  outputs, log links) and dbt node results (the run's dbt operations).
- ``GET /runs/{id}/tasks/{task_run_id}``: the log files of one attempt of a task run (``?attempt=N``,
  default the latest), the last :data:`LOG_TAIL_BYTES` of each.
- ``GET /ticks``: schedule fire times, sensor windows and trigger events, and what each did (``?pipeline=``
  an alias or id): "why did (or didn't) it run".
- ``GET|POST /login``, ``GET /logout``: the session cookie (``auth.py``).
- ``GET /static/plotly.min.js``: plotly.js from the installed ``plotly`` package (no CDN: works offline).
"""

from __future__ import annotations

import functools
import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from plotly.offline import get_plotlyjs
from sqlalchemy import select

from orchestra_local.api.params import MAX_PAGE
from orchestra_local.api.service import RunService
from orchestra_local.console import task_label
from orchestra_local.errors import InvalidInputError
from orchestra_local.run_logs import attempt_logs
from orchestra_local.store import RunStore, queries
from orchestra_local.store.alert_outbox import list_alerts
from orchestra_local.store.repository import PIPELINE_RUNS, utcnow
from orchestra_local.store.ticks import list_ticks
from orchestra_local.viewer.auth import (
    COOKIE,
    LoginRequired,
    SessionStarted,
    require_session,
    safe_next,
    session_value,
    token_matches,
)
from orchestra_local.viewer.gantt import STATUS_COLOURS, bars_from_task_runs, gantt_figure
from orchestra_local.viewer.labels import started_by

LOG_TAIL_BYTES = 1_000_000
"""Bytes of each log file a page shows (the end of it); the rest is a download of the file away."""
PAGE_SIZE = 50
"""Runs per page of the runs list."""
DAY_CHOICES = (1, 7, 30, 90, 365)
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
"""Terminal colour codes (dbt writes them into its log): dropped from the page."""

templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))
templates.env.globals["status_colours"] = STATUS_COLOURS
templates.env.filters["started_by"] = started_by
pages = APIRouter(include_in_schema=False, dependencies=[Depends(require_session)])
public = APIRouter(include_in_schema=False)


def _store(request: Request) -> RunStore:
    service: RunService = request.app.state.service
    return service.store


def _seconds(record: dict[str, Any]) -> float | None:
    if record.get("started_at") and record.get("completed_at"):
        return (record["completed_at"] - record["started_at"]).total_seconds()
    return None


@pages.get("/", response_class=HTMLResponse)
def runs_page(request: Request, pipeline: str = "", status: str = "", days: int = 7, page: int = 1) -> HTMLResponse:
    """The runs list."""
    store = _store(request)
    now = utcnow()
    days, page = max(1, min(days, 3650)), max(1, min(page, MAX_PAGE))
    result = queries.pipeline_runs(store, window=queries.Window(start=now - timedelta(days=days), end=now),
                                   page=page, page_size=PAGE_SIZE, statuses=[status] if status else (),
                                   pipeline_ids=[pipeline] if pipeline else ())
    pipelines = store.read(select(PIPELINE_RUNS.c.pipeline_id, PIPELINE_RUNS.c.pipeline_name)
                           .group_by(PIPELINE_RUNS.c.pipeline_id, PIPELINE_RUNS.c.pipeline_name)
                           .order_by(PIPELINE_RUNS.c.pipeline_name))
    runs = [{**run, "seconds": _seconds(run)} for run in result.results]
    return templates.TemplateResponse(request, "runs.html", {
        "runs": runs, "total": result.total, "page": page, "pages": max(1, -(-result.total // PAGE_SIZE)),
        "pipelines": pipelines, "statuses": list(STATUS_COLOURS), "day_choices": DAY_CHOICES,
        "filters": {"pipeline": pipeline, "status": status, "days": days},
    })


def _run_or_404(store: RunStore, run_id: str) -> dict[str, Any]:
    run = store.get_pipeline_run(run_id)
    if run is None:
        raise HTTPException(status_code=404, detail=f"no pipeline run {run_id}")
    return run


@pages.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: str) -> HTMLResponse:
    """One run: Gantt, task runs with outputs and log links, dbt node results."""
    store = _store(request)
    run = _run_or_404(store, run_id)
    task_runs = store.list_task_runs(run_id)
    tasks = []
    for record in task_runs:
        if record["matrix_parent"]:
            continue
        attempts = sorted({int(row["attempt"] or 0) for row in store.list_files(record["id"], "log")})
        tasks.append({**record, "label": task_label(record), "seconds": _seconds(record),
                      "outputs": store.get_outputs(record["id"]), "log_attempts": attempts})
    operations = store.list_operations(pipeline_run_id=run_id)
    dbt_nodes = [operation for operation in operations if str(operation.get("integration") or "").startswith("DBT")]
    dbt_nodes.sort(key=lambda node: (node["operation_status"] != "FAILED", -(node["operation_duration"] or 0.0)))
    figure = gantt_figure(bars_from_task_runs(task_runs))
    gantt = figure.to_html(full_html=False, include_plotlyjs=False, div_id="gantt", config={"displaylogo": False})
    return templates.TemplateResponse(request, "run.html", {
        "run": {**run, "seconds": _seconds(run)}, "tasks": tasks, "dbt_nodes": dbt_nodes, "gantt": gantt,
        "other_operations": len(operations) - len(dbt_nodes), "alerts": list_alerts(store, run_id, limit=200),
    })


@pages.get("/ticks", response_class=HTMLResponse)
def ticks_page(request: Request, pipeline: str = "") -> HTMLResponse:
    """The latest ticks (of one pipeline: its alias or id), newest first."""
    rows = list_ticks(_store(request), pipeline.strip() or None, limit=PAGE_SIZE * 4)
    return templates.TemplateResponse(request, "ticks.html", {"ticks": rows, "pipeline": pipeline.strip()})


def _tail(path: Path) -> tuple[str, int]:
    """The last :data:`LOG_TAIL_BYTES` of a file as text, and how many bytes were left out before them."""
    if not path.is_file():
        return "(file removed)\n", 0
    size = path.stat().st_size
    with path.open("rb") as handle:
        handle.seek(max(0, size - LOG_TAIL_BYTES))
        text = handle.read().decode("utf-8", errors="replace")
    return ANSI_ESCAPE.sub("", text), max(0, size - LOG_TAIL_BYTES)


@pages.get("/runs/{run_id}/tasks/{task_run_id}", response_class=HTMLResponse)
def log_page(request: Request, run_id: str, task_run_id: str, attempt: int | None = None) -> HTMLResponse:
    """The log files of one attempt of a task run."""
    store = _store(request)
    run = _run_or_404(store, run_id)
    record = store.get_task_run(task_run_id)
    if record is None or record["pipeline_run_id"] != run_id:
        raise HTTPException(status_code=404, detail=f"no task run {task_run_id} in pipeline run {run_id}")
    try:
        shown, files = attempt_logs(store, task_run_id, attempt)
    except InvalidInputError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    attempts = sorted({int(row["attempt"] or 0) for row in store.list_files(task_run_id, "log")})
    logs = [{"name": file.name, "text": text, "skipped": skipped}
            for file in files for text, skipped in [_tail(file.path)]]
    return templates.TemplateResponse(request, "log.html", {
        "run": run, "task": {**record, "label": task_label(record)}, "attempt": shown, "attempts": attempts,
        "logs": logs,
    })


@public.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> HTMLResponse:  # noqa: A002 - the conventional name
    """The login form."""
    return templates.TemplateResponse(request, "login.html", {"next": safe_next(next), "error": None})


@public.post("/login")
async def login(request: Request) -> Response:
    """Check the posted token (``application/x-www-form-urlencoded``: ``token``, ``next``); set the cookie."""
    form = parse_qs((await request.body()).decode("utf-8", errors="replace"))
    given, next_url = form.get("token", [""])[0], safe_next(form.get("next", ["/"])[0])
    if not token_matches(given, request.app.state.token):
        return templates.TemplateResponse(request, "login.html", status_code=401, context={
            "next": next_url, "error": "That token is not this server's API token."})
    return _with_session(RedirectResponse(next_url, status_code=303), request)


@public.get("/logout")
def logout() -> Response:
    """Forget the session cookie."""
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@public.get("/favicon.ico")
def favicon() -> Response:
    """No icon (204), rather than a 404 in every browser's console."""
    return Response(status_code=204)


@public.get("/static/plotly.min.js")
def plotly_js() -> Response:
    """plotly.js of the installed plotly package (public: it is a library, not data)."""
    return Response(_plotly_source(), media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})


@functools.cache
def _plotly_source() -> str:
    return get_plotlyjs()  # about 4.7 MB, read once


def _with_session(response: Response, request: Request) -> Response:
    response.set_cookie(COOKIE, session_value(request.app.state.token), httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")
    return response


def install(app: FastAPI) -> None:
    """Add the viewer's routes and its login handling to ``app`` (``api/app.py`` calls it)."""
    app.include_router(public)
    app.include_router(pages)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        return templates.TemplateResponse(request, "login.html", status_code=401,
                                          context={"next": safe_next(exc.next_url), "error": exc.error})

    @app.exception_handler(SessionStarted)
    async def session_started(request: Request, exc: SessionStarted) -> Response:
        return _with_session(RedirectResponse(safe_next(exc.url), status_code=303), request)
