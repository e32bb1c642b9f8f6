"""Pipelines: the registry (``GET /pipelines``, ``/pipeline``, ``/pipelines/data``) and starting runs.

Request bodies follow Orchestra's OpenAPI document (``docs/orchestra-contract.md``): camelCase
keys, snake_case accepted as well (orchestra-cli sends ``storage_provider``, ``pipeline_id``).
A key whose value is ``null``, ``""``, ``[]`` or ``{}`` counts as absent, as on hosted Orchestra:
the run-pipeline GitHub Action sends ``"environment": ""`` and ``"taskIds": null`` whenever those
inputs are unset.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from orchestra_local.api import process_text
from orchestra_local.api.deps import get_service, require_token
from orchestra_local.api.pipeline_files import PipelineConflictError
from orchestra_local.api.records import (
    LOCAL_VERSION_NUMBER,
    dump_definition,
    pipeline_definition,
    pipeline_record,
    pipeline_summary,
)
from orchestra_local.api.service import NotFoundError, PipelineFile, RunService, StartOptions
from orchestra_local.errors import InvalidInputError, PipelineValidationError

router = APIRouter(tags=["pipelines"], dependencies=[Depends(require_token)])


@contextmanager
def http_errors(service: RunService) -> Iterator[None]:
    """Translate the service's errors: 404 not found, 409 conflict, 422 invalid pipeline, 400 bad input."""
    try:
        yield
    except NotFoundError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    except PipelineConflictError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    except PipelineValidationError as exc:
        raise HTTPException(status_code=422, detail=[p.as_detail() for p in exc.problems]) from None
    except InvalidInputError as exc:
        raise HTTPException(status_code=400, detail=service.workspace.masker.mask(str(exc))) from None


_UNKNOWN = "<unknown>"


def record(service: RunService, pipeline: PipelineFile, latest: dict[str, Any] | None,
           repository: str | None = _UNKNOWN) -> dict[str, Any]:
    """``PipelineResponse`` of a file (an invalid file still lists, named by its alias).

    ``repository`` is the served repository's ``owner/name`` (None: no origin) when the caller
    has it already.
    """
    try:
        summary = service.registry.derive(pipeline, "summary", lambda loaded: pipeline_summary(loaded.model))
    except PipelineValidationError:
        summary = None
    if repository == _UNKNOWN:
        repository = service.registry.origin_slug()
    return pipeline_record(pipeline, summary, latest, repository)


@router.get("/pipelines", response_model=list[dict[str, Any]])
async def list_pipelines(service: RunService = Depends(get_service)) -> JSONResponse:  # noqa: B008
    """Every pipeline file under ``orchestra/`` as Orchestra's ``PipelineResponse``.

    When every file's summary is cached (the common case: one ``stat`` per file and one small
    query, well under a millisecond) the list is built on the event loop; a thread-pool hop cost
    more than the work and tripled the latency of 20 concurrent clients. When a file changed, its
    validation (up to seconds) runs in the thread pool. The records are JSON-ready (strings,
    numbers, ISO 8601 times), so they skip FastAPI's generic encoder.
    """
    pipelines = service.registry.all()
    if all(service.registry.is_cached(pipeline, "summary") for pipeline in pipelines):
        return _pipelines_response(service, pipelines)
    return await run_in_threadpool(_pipelines_response, service, pipelines)


def _pipelines_response(service: RunService, pipelines: list[PipelineFile]) -> JSONResponse:
    latest, repository = service.latest_runs(), service.registry.origin_slug()
    return JSONResponse([record(service, p, latest.get(p.id), repository) for p in pipelines])


def select(service: RunService, pipeline_id: str | None, alias: str | None, repository: str | None,
           yaml_path: str | None, version: int | None = None) -> PipelineFile:
    """The pipeline of Orchestra's selectors (400 none or several, 404 no match or another version)."""
    with http_errors(service):
        pipeline = service.registry.select(pipeline_id=pipeline_id, alias=alias, repository=repository,
                                           yaml_path=yaml_path)
    if version is not None and version != LOCAL_VERSION_NUMBER:
        raise HTTPException(status_code=404, detail=f"Pipeline version {version} not found: a local pipeline has "
                                                    f"one version, {LOCAL_VERSION_NUMBER} (its file on disk)")
    return pipeline


@router.get("/pipeline")
def get_pipeline(
    pipeline_id: str | None = None, alias: str | None = None, repository: str | None = None,
    yaml_path: str | None = None, version: int | None = None,
    service: RunService = Depends(get_service),  # noqa: B008
) -> dict[str, Any]:
    """One pipeline by ``pipeline_id``, ``alias``, or ``repository`` + ``yaml_path`` (repo-relative)."""
    pipeline = select(service, pipeline_id, alias, repository, yaml_path, version)
    return record(service, pipeline, service.latest_run(pipeline.id))


@router.get("/pipelines/data")
def get_pipeline_data(
    pipeline_id: str | None = None, alias: str | None = None, repository: str | None = None,
    yaml_path: str | None = None, version: int | None = None,
    service: RunService = Depends(get_service),  # noqa: B008
) -> dict[str, Any]:
    """The pipeline definition as Orchestra's ``PipelineModel`` (camelCase); 422 when the file is invalid."""
    pipeline = select(service, pipeline_id, alias, repository, yaml_path, version)
    with http_errors(service):
        return pipeline_definition(dump_definition(service.load(pipeline).model))


# orchestra-cli 0.5.2 (`pipeline run --alias X --task T`) reads the definition from this path,
# which Orchestra's OpenAPI document does not list; it answers as /pipelines/data.
router.add_api_route("/pipeline/data", get_pipeline_data, methods=["GET"], include_in_schema=False)


class ApiBody(BaseModel):
    """Base of request bodies: camelCase or snake_case keys; null and empty values are absent."""

    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, validate_by_alias=True,
                              extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _empty_is_absent(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: item for key, item in value.items() if item is not None and item != "" and item != []
                    and item != {}}
        return value


class StartRequest(ApiBody):
    """Body of a start request (Orchestra's ``WebhookRequestData``).

    ``ciRunId`` is accepted and not recorded (``PipelineRunResponse`` has no field for it);
    ``data`` (Airflow webhook payloads) has no local meaning and answers 400 when non-empty.
    """

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

    # Values reach the tasks' argv and environment, which cannot hold NUL: 422 now, not failed tasks later.
    _overrides_fit_an_environment = field_validator("environment_overrides")(
        lambda value: process_text.environment_names(value))
    _no_nul = field_validator("run_inputs", "task_ids", "environment", "branch", "commit")(
        lambda value, info: process_text.without_nul(value, to_camel(info.field_name or "")))


@router.post("/pipelines/{pipeline_id_or_alias}/start")
def start_pipeline(
    pipeline_id_or_alias: str,
    body: StartRequest | None = Body(default=None),  # noqa: B008
    service: RunService = Depends(get_service),  # noqa: B008
) -> dict[str, Any]:
    """Start a run in the background: 200 ``{"id", "pipelineRunId", "message"}``.

    400 (string detail) for missing/unknown inputs, bad restart options or another version, 404
    for an unknown pipeline, 422 (detail list) when the file is not a valid pipeline.
    """
    body = body or StartRequest()
    if body.data:
        raise HTTPException(status_code=400, detail="data (Airflow webhook payloads) is not supported locally")
    options = StartOptions(
        run_inputs=body.run_inputs, task_ids=body.task_ids, continue_downstream_run=body.continue_downstream_run,
        retry_from_failed=body.retry_from_failed, environment=body.environment,
        environment_overrides=body.environment_overrides, branch=body.branch, commit=body.commit,
        version_number=body.version_number,
    )
    with http_errors(service):
        pipeline = service.registry.find(pipeline_id_or_alias)
        run_id = service.start(pipeline_id_or_alias, options)
    return {"id": pipeline.id, "pipelineRunId": run_id, "message": "Pipeline run started"}
