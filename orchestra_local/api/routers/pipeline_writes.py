"""Create, update, import and delete pipelines: locally, the files under ``orchestra/``.

``POST /pipelines`` (201), ``PUT /pipelines`` (200), ``POST /pipelines/import`` (201) and
``DELETE /pipelines`` (204) as in Orchestra's OpenAPI document (``docs/orchestra-contract.md``),
with the bodies orchestra-cli 0.5.2 sends (``pipeline new``, ``update``, ``build``, ``import``,
``delete``). Local pipelines are ``ORCHESTRA``-backed (see ``records.STORAGE_PROVIDER``), so the
definition travels in the request and the server writes the file (``pipeline_files.py``: validated
first, written atomically, never outside ``orchestra/``, git never run). ``published`` is accepted
and has no local effect: every file under ``orchestra/`` can be started.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Response
from pydantic import ConfigDict

from orchestra_local.api.deps import get_service, require_token
from orchestra_local.api.records import LOCAL_VERSION_NUMBER, dump_definition, pipeline_definition
from orchestra_local.api.routers.pipelines import ApiBody, http_errors, record, select
from orchestra_local.api.service import PipelineFile, RunService
from orchestra_local.errors import InvalidInputError

router = APIRouter(tags=["pipelines"], dependencies=[Depends(require_token)])

StorageProvider = Literal["ORCHESTRA", "AZURE_DEVOPS", "GITHUB", "GITLAB", "BITBUCKET"]


class CreateRequest(ApiBody):
    """``PublicCreatePipelineRequest``: extra keys are allowed, as in Orchestra's schema."""

    model_config = ConfigDict(extra="allow")

    data: dict[str, Any]
    published: bool
    storage_provider: StorageProvider = "ORCHESTRA"
    default_branch: str | None = None
    message: str | None = None
    message_is_custom: bool | None = True
    repository: str | None = None
    working_branch: str | None = None
    yaml_path: str | None = None
    alias: str | None = None


class UpdateRequest(ApiBody):
    """``PublicUpdatePipelineRequest``, plus the ``storage_provider`` orchestra-cli always sends."""

    data: dict[str, Any]
    published: bool
    alias: str | None = None
    pipeline_id: str | None = None
    storage_provider: Literal["ORCHESTRA"] | None = None


class ImportRequest(ApiBody):
    """``ImportPipelineRequest``: register a YAML file of a repository."""

    default_branch: str
    repository: str
    storage_provider: StorageProvider
    yaml_path: str
    alias: str | None = None
    working_branch: str | None = None


def written(service: RunService, pipeline: PipelineFile) -> dict[str, Any]:
    """``CreateOrUpdatePipelineResponse``: the pipeline record with its definition and version."""
    body = record(service, pipeline, service.latest_run(pipeline.id))
    with http_errors(service):
        body["data"] = pipeline_definition(dump_definition(service.load(pipeline).model))
    body["currentVersionNumber"] = LOCAL_VERSION_NUMBER
    return body


@router.post("/pipelines", status_code=201)
def create_pipeline(body: CreateRequest, service: RunService = Depends(get_service)) -> dict[str, Any]:  # noqa: B008
    """Write ``orchestra/<alias>.yml`` (or ``yamlPath``): 201; 409 when it exists, 422 when invalid."""
    with http_errors(service):
        if body.storage_provider != "ORCHESTRA":
            raise InvalidInputError(f"storageProvider {body.storage_provider}: a file in this repository is "
                                    "served as it is; create ORCHESTRA-backed pipelines here")
        pipeline = service.files.create(body.data, alias=body.alias, yaml_path=body.yaml_path)
    return written(service, pipeline)


@router.put("/pipelines")
def update_pipeline(body: UpdateRequest, alias: str | None = None,
                    service: RunService = Depends(get_service)) -> dict[str, Any]:  # noqa: B008
    """Replace the definition of the pipeline chosen by ``pipeline_id`` or ``alias`` (body or query)."""
    pipeline = select(service, body.pipeline_id, body.alias or alias, None, None)
    with http_errors(service):
        service.files.update(pipeline, body.data)
    return written(service, pipeline)


@router.post("/pipelines/import", status_code=201)
def import_pipeline(body: ImportRequest, service: RunService = Depends(get_service)) -> dict[str, Any]:  # noqa: B008
    """A file already in this repository is served as it is: 201 with its record once it validates."""
    pipeline = select(service, None, None, body.repository, body.yaml_path)
    with http_errors(service):
        if body.alias is not None and body.alias != pipeline.alias:
            raise InvalidInputError(f"alias {body.alias!r}: locally a pipeline's alias is its file stem, "
                                    f"{pipeline.alias!r}")
    return written(service, pipeline)


@router.delete("/pipelines", status_code=204)
def delete_pipeline(
    pipeline_id: str | None = None, alias: str | None = None, repository: str | None = None,
    yaml_path: str | None = None, service: RunService = Depends(get_service),  # noqa: B008
) -> Response:
    """Remove the pipeline's file from ``orchestra/`` (its past runs stay in the store): 204."""
    pipeline = select(service, pipeline_id, alias, repository, yaml_path)
    with http_errors(service):
        service.files.delete(pipeline)
    return Response(status_code=204)


@router.patch("/pipelines/storage-settings")
def migrate_pipeline(pipeline_id: str | None = None, alias: str | None = None,
                     service: RunService = Depends(get_service)) -> dict[str, Any]:  # noqa: B008
    """400: a local pipeline already is a file of this repository, so there is no storage to migrate.

    (``orchestra pipeline migrate`` writes, commits and pushes the file itself before it calls
    this endpoint; that is the command's purpose, and the server cannot undo it.)
    """
    pipeline = select(service, pipeline_id, alias, None, None)
    with http_errors(service):
        raise InvalidInputError(f"Pipeline {pipeline.alias!r} is the file {pipeline.yaml_path} of this repository "
                                "already; the local server has no other storage to migrate it from")
