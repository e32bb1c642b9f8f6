"""Pipelines: the registry (GET /pipelines, /pipeline, /pipelines/data) and starting runs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from orchestra_local.api.deps import get_service, require_token
from orchestra_local.api.records import iso
from orchestra_local.api.service import NotFoundError, PipelineFile, RunService, StartOptions
from orchestra_local.errors import InvalidInputError, PipelineValidationError

router = APIRouter(tags=["pipelines"], dependencies=[Depends(require_token)])


def _pipeline_record(service: RunService, pipeline: PipelineFile, latest: dict[str, Any] | None) -> dict[str, Any]:
    try:
        model = service.load(pipeline).model
        name, inputs, tasks = model.name, model.inputs, sum(1 for _ in model.iter_tasks())
    except PipelineValidationError:
        name, inputs, tasks = pipeline.alias, None, None
    modified = iso(pipeline.modified_at())
    record: dict[str, Any] = {
        "id": pipeline.id, "name": name, "alias": pipeline.alias, "yamlPath": pipeline.yaml_path, "paused": False,
        "createdAt": modified, "updatedAt": modified, "numTasks": tasks, "storageProvider": "ORCHESTRA_LOCAL",
        "inputs": {k: v.model_dump(exclude_none=True) for k, v in inputs.items()} if inputs else None,
        "latestRunId": None, "latestRunStatus": None, "latestRunMessage": None, "latestRunCreatedAt": None,
        "latestRunStartedAt": None, "latestRunCompletedAt": None,
    }
    if latest is not None:
        record.update({
            "latestRunId": latest["id"], "latestRunStatus": latest["run_status"], "latestRunMessage": latest["message"],
            "latestRunCreatedAt": iso(latest["created_at"]), "latestRunStartedAt": iso(latest["started_at"]),
            "latestRunCompletedAt": iso(latest["completed_at"]),
        })
    return record


@router.get("/pipelines")
def list_pipelines(service: RunService = Depends(get_service)) -> list[dict[str, Any]]:  # noqa: B008
    """Every pipeline file under ``orchestra/`` as Orchestra's ``PipelineResponse``."""
    latest = service.latest_runs()
    return [_pipeline_record(service, p, latest.get(p.id)) for p in service.registry.all()]


def _select(service: RunService, alias: str | None, pipeline_id: str | None) -> PipelineFile:
    if not alias and not pipeline_id:
        raise HTTPException(status_code=400, detail="Provide alias or pipeline_id")
    try:
        return service.registry.find(pipeline_id or alias or "")
    except NotFoundError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None


@router.get("/pipeline")
def get_pipeline(
    alias: str | None = None, pipeline_id: str | None = None, service: RunService = Depends(get_service),  # noqa: B008
) -> dict[str, Any]:
    """One pipeline by ``alias`` or ``pipeline_id``."""
    pipeline = _select(service, alias, pipeline_id)
    return _pipeline_record(service, pipeline, service.latest_runs().get(pipeline.id))


@router.get("/pipelines/data")
def get_pipeline_data(
    alias: str | None = None, pipeline_id: str | None = None, service: RunService = Depends(get_service),  # noqa: B008
) -> dict[str, Any]:
    """The pipeline definition (its parsed YAML)."""
    pipeline = _select(service, alias, pipeline_id)
    try:
        return service.load(pipeline).document
    except PipelineValidationError as exc:
        raise HTTPException(status_code=422, detail=[p.as_detail() for p in exc.problems]) from None


class StartRequest(BaseModel):
    """Body of a start request (Orchestra's ``WebhookRequestData``)."""

    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, validate_by_alias=True, extra="forbid")

    version_number: int | None = None
    branch: str | None = None
    commit: str | None = None
    task_ids: list[str] | None = None
    continue_downstream_run: bool | None = None
    run_inputs: dict[str, Any] | None = None
    data: list[dict[str, Any]] = Field(default_factory=list)
    ci_run_id: str | None = None
    environment: str | None = None
    environment_overrides: dict[str, Any] | None = None
    retry_from_failed: bool = False


@router.post("/pipelines/{pipeline_id_or_alias}/start")
def start_pipeline(
    pipeline_id_or_alias: str,
    body: StartRequest | None = Body(default=None),  # noqa: B008
    service: RunService = Depends(get_service),  # noqa: B008
) -> dict[str, Any]:
    """Start a run in the background: 200 ``{"id", "pipelineRunId", "message"}``.

    400 (string detail) for missing/unknown inputs or bad restart options, 404 for an unknown
    pipeline, 422 (detail list) when the file is not a valid pipeline.
    """
    body = body or StartRequest()
    options = StartOptions(
        run_inputs=body.run_inputs, task_ids=body.task_ids, continue_downstream_run=body.continue_downstream_run,
        retry_from_failed=body.retry_from_failed, environment=body.environment,
        environment_overrides=body.environment_overrides, branch=body.branch, commit=body.commit,
    )
    try:
        pipeline = service.registry.find(pipeline_id_or_alias)
        run_id = service.start(pipeline_id_or_alias, options)
    except NotFoundError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    except PipelineValidationError as exc:
        raise HTTPException(status_code=422, detail=[p.as_detail() for p in exc.problems]) from None
    except InvalidInputError as exc:
        raise HTTPException(status_code=400, detail=service.workspace.masker.mask(str(exc))) from None
    return {"id": pipeline.id, "pipelineRunId": run_id, "message": "Pipeline run started"}
