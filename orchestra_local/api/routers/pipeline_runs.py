"""Pipeline runs: list, status, cancel, their task runs, and the task runs' logs and artifacts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Response
from fastapi.responses import FileResponse, JSONResponse

from orchestra_local.api import params
from orchestra_local.api.deps import get_service, require_token
from orchestra_local.api.environment_records import environment_names
from orchestra_local.api.records import page_record, pipeline_run_record, task_run_record
from orchestra_local.api.service import NotFoundError, RunService
from orchestra_local.errors import InvalidInputError
from orchestra_local.store import queries

router = APIRouter(tags=["pipeline runs"], dependencies=[Depends(require_token)])


@router.get("/pipeline_runs")
def list_pipeline_runs(
    window: params.Window, paging: params.ListPage, status: params.PipelineRunStatuses = "",
    pipeline_ids: params.UuidCsv = "", pipeline_run_ids: params.UuidCsv = "", environments: params.TextCsv = "",
    service: RunService = Depends(get_service),  # noqa: B008
) -> dict[str, Any]:
    """Pipeline runs, newest first, ``{page, pageSize, total, results}``.

    ``environments`` takes environment ids (as ``GET /environments`` lists them) or, locally,
    environment names.
    """
    result = queries.pipeline_runs(
        service.store, window=window, page=paging.page, page_size=paging.page_size,
        statuses=status, pipeline_ids=pipeline_ids, pipeline_run_ids=pipeline_run_ids,  # type: ignore[arg-type]
        environments=environment_names(service.workspace.environments, environments),  # type: ignore[arg-type]
    )
    return page_record(result, pipeline_run_record)


def _run(service: RunService, pipeline_run_id: str) -> dict[str, Any]:
    record = service.store.get_pipeline_run(pipeline_run_id)
    if record is None:
        raise HTTPException(status_code=404, detail="Pipeline run not found")
    return record


@router.get("/pipeline_runs/{pipeline_run_id}/status")
def pipeline_run_status(pipeline_run_id: params.PipelineRunId, service: RunService = Depends(get_service)) -> dict[str, Any]:  # noqa: B008
    """The pipeline run record (``runStatus``, timestamps, ``triggeredBy``, ...)."""
    return pipeline_run_record(_run(service, pipeline_run_id))


@router.post("/pipeline_runs/{pipeline_run_id}/cancel", status_code=204,
             responses={202: {"description": "Still ending: ``{runStatus, message}``; poll /status"}})
def cancel_pipeline_run(
    pipeline_run_id: str, body: dict[str, Any] | None = Body(default=None),  # noqa: B008
    service: RunService = Depends(get_service),  # noqa: B008
) -> Response:
    """Cancel a run, whichever process started it (this server, another server, ``orchestra-local run``).

    Answers 204 only once the run has ended (CANCELLED, or the status it reached first) and its
    task processes are gone; 202 with ``{"runStatus": ..., "message": ...}`` when it is still
    ending after 30 seconds (poll ``/pipeline_runs/{id}/status``). A run whose runner died is
    cleared at once: the task processes it left are killed (checked by start time) and it ends
    CANCELLED. 400 for a run that already ended, 404 for an unknown one.
    """
    try:
        outcome = service.cancel(pipeline_run_id)
    except NotFoundError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    except InvalidInputError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    if not outcome.ended:
        return JSONResponse(status_code=202, content={"runStatus": outcome.status, "message": outcome.message})
    return Response(status_code=204)


@router.get("/pipeline_runs/{pipeline_run_id}/task_runs")
def pipeline_run_task_runs(
    pipeline_run_id: params.PipelineRunId, paging: params.TaskRunsPage,
    service: RunService = Depends(get_service),  # noqa: B008
) -> dict[str, Any]:
    """Task runs of one pipeline run in plan order (matrix parents and children included)."""
    _run(service, pipeline_run_id)
    result = queries.task_runs(service.store, pipeline_run_id=pipeline_run_id, page=paging.page,
                               page_size=paging.page_size)
    return page_record(result, task_run_record)


def _files(service: RunService, pipeline_run_id: str, task_run_id: str, kind: str) -> list[dict[str, Any]]:
    task_run = service.store.get_task_run(task_run_id)
    if task_run is None or task_run["pipeline_run_id"] != pipeline_run_id:
        raise HTTPException(status_code=404, detail="Task run not found")
    return service.store.list_files(task_run_id, kind)


def _download(service: RunService, pipeline_run_id: str, task_run_id: str, kind: str, filename: str,
              media_type: str) -> FileResponse:
    """The latest file of that name, confined to the task run's folder of the state directory.

    The recorded path is resolved (symlinks followed) and must stay inside
    ``<state>/runs/<run>/<task run>/``: a symlink a task planted there never serves a file from
    elsewhere (404, as for a missing file).
    """
    matches = [f for f in _files(service, pipeline_run_id, task_run_id, kind) if f["filename"] == filename]
    folder = Path(os.path.realpath(service.settings.runs_dir / pipeline_run_id / task_run_id))
    target = Path(os.path.realpath(matches[-1]["path"])) if matches else None
    if target is None or not target.is_relative_to(folder) or not target.is_file():
        raise HTTPException(status_code=404, detail=f"File not found: {filename}")
    return FileResponse(target, media_type=media_type, filename=Path(filename).name)


@router.get("/pipeline_runs/{pipeline_run_id}/task_runs/{task_run_id}/logs")
def task_run_logs(pipeline_run_id: params.PipelineRunId, task_run_id: params.TaskRunId,
                  service: RunService = Depends(get_service)) -> dict[str, Any]:  # noqa: B008
    """``{filenames, files: {name: {attemptNumber, displayName}}}`` (``TaskRunFilesResponse``)."""
    files = _files(service, pipeline_run_id, task_run_id, "log")
    return {
        "filenames": [f["filename"] for f in files],
        "files": {f["filename"]: {"attemptNumber": f["attempt"] or 1, "displayName": f["filename"]} for f in files},
    }


@router.get("/pipeline_runs/{pipeline_run_id}/task_runs/{task_run_id}/logs/download")
def download_task_run_log(pipeline_run_id: params.PipelineRunId, task_run_id: params.TaskRunId, filename: str,
                          service: RunService = Depends(get_service)) -> FileResponse:  # noqa: B008
    """The raw log text; honours ``Range`` (partial content)."""
    return _download(service, pipeline_run_id, task_run_id, "log", filename, "text/plain; charset=utf-8")


@router.get("/pipeline_runs/{pipeline_run_id}/task_runs/{task_run_id}/artifacts")
def task_run_artifacts(pipeline_run_id: params.PipelineRunId, task_run_id: params.TaskRunId,
                       service: RunService = Depends(get_service)) -> dict[str, Any]:  # noqa: B008
    """``{filenames}`` of the task run's artifacts (latest attempt of each name)."""
    files = _files(service, pipeline_run_id, task_run_id, "artifact")
    return {"filenames": list(dict.fromkeys(f["filename"] for f in files))}


@router.get("/pipeline_runs/{pipeline_run_id}/task_runs/{task_run_id}/artifacts/download")
def download_task_run_artifact(pipeline_run_id: params.PipelineRunId, task_run_id: params.TaskRunId, filename: str,
                               service: RunService = Depends(get_service)) -> FileResponse:  # noqa: B008
    """One artifact file (e.g. ``run_results.json``), latest attempt."""
    return _download(service, pipeline_run_id, task_run_id, "artifact", filename, "application/octet-stream")
