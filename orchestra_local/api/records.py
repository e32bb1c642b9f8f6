"""Store rows -> the camelCase records of Orchestra's public API.

Field sets follow the ``PipelineRunResponse``, ``TaskRunResponse``, ``OperationResponse`` and
``PipelineResponse`` schemas of Orchestra's OpenAPI document (``docs/orchestra-contract.md``).
Timestamps are ISO 8601 strings in UTC.

Local pipelines report ``storageProvider: "ORCHESTRA"`` (one of the ``StorageProvider`` values
Orchestra's clients know) and a single version, number 1: the file on disk. With ``ORCHESTRA``,
orchestra-cli's ``build``/``update`` send the YAML to ``PUT /pipelines`` and this server writes the
file under ``orchestra/``; with a git provider (``GITHUB``, ...) the CLI would instead commit and
push the user's branch itself and never reach the server, which is not what a local server is for.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from pydantic.alias_generators import to_camel

from orchestra_local.api.environment_records import environment_id
from orchestra_local.api.registry import PipelineFile
from orchestra_local.spec.models import Pipeline


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC (``2024-01-01T08:00:00.123456+00:00``), or None."""
    return value.isoformat() if value is not None else None


@functools.cache
def _camel_names(fields: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """``(column, camelCase key)`` pairs, computed once per field list (``to_camel`` is a regex)."""
    return tuple((name, to_camel(name)) for name in fields)


def _camel(row: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    record = {}
    for name, key in _camel_names(fields):
        value = row.get(name)
        record[key] = value.isoformat() if isinstance(value, datetime) else value
    return record


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
    """A pipeline run as ``PipelineRunResponse``.

    ``data`` is the pipeline definition the run executed (``PipelineRunModel``), as the runner
    recorded it when the run was created; None for runs recorded before it did. The run inputs,
    alias and file of the run stay in the store's own columns.
    """
    record = _camel(row, PIPELINE_RUN_FIELDS)
    record["triggeredBy"] = row.get("triggered_by") or []
    record["childPipelineRuns"] = []
    if record.get("envId") is None and row.get("env_name"):  # the id GET /environments gives that environment
        record["envId"] = environment_id(row["env_name"])
    definition = (row.get("data") or {}).get("definition")
    record["data"] = pipeline_definition(definition) if isinstance(definition, dict) else None
    return record


PIPELINE_MODEL_KEYS = ("version", "name", "pipeline", "schedule", "sensors", "triggerEvents", "webhook",
                       "configuration", "inputs", "meta", "alerts")
"""Top-level keys of Orchestra's ``PipelineModel`` (``additionalProperties: false``)."""
INPUT_MODEL_KEYS = ("type", "default", "optional")
"""Keys of Orchestra's ``PipelineInputModel`` (our ``options`` is a local addition, not sent)."""
LOCAL_VERSION_NUMBER = 1
"""The one version of a local pipeline: its file on disk **(our choice)**."""
STORAGE_PROVIDER = "ORCHESTRA"
"""What local pipelines report as ``storageProvider`` (see the module docstring for why)."""


def dump_definition(model: Pipeline) -> dict[str, Any]:
    """A validated pipeline in the API's camelCase spelling, keys the file did not set left out."""
    return model.model_dump(mode="json", by_alias=True, exclude_unset=True)


def pipeline_definition(dumped: dict[str, Any]) -> dict[str, Any]:
    """Orchestra's ``PipelineModel`` of a :func:`dump_definition` result: only the schema's keys."""
    definition = {key: dumped[key] for key in PIPELINE_MODEL_KEYS if key in dumped}
    if isinstance(definition.get("inputs"), dict):
        definition["inputs"] = {name: {k: v for k, v in spec.items() if k in INPUT_MODEL_KEYS}
                                for name, spec in definition["inputs"].items()}
    return definition


def pipeline_summary(model: Pipeline) -> dict[str, Any]:
    """``name``, ``numTasks`` and ``inputs`` (``PipelineInputModel`` keys only) of a ``PipelineResponse``."""
    inputs = None
    if model.inputs:
        inputs = {name: spec.model_dump(mode="json", by_alias=True, exclude_unset=True, include=set(INPUT_MODEL_KEYS))
                  for name, spec in model.inputs.items()}
    return {"name": model.name, "numTasks": sum(1 for _ in model.iter_tasks()), "inputs": inputs}


def pipeline_record(pipeline: PipelineFile, summary: dict[str, Any] | None, latest: dict[str, Any] | None,
                    repository: str | None) -> dict[str, Any]:
    """A pipeline file as ``PipelineResponse``.

    Args:
        pipeline: The pipeline file.
        summary: Its :func:`pipeline_summary`, or None when the file is invalid (then the name is
            the alias and ``numTasks``/``inputs`` are null).
        latest: The newest run of the pipeline (a store row), if any.
        repository: ``owner/name`` of the served repository's origin, if any.
    """
    modified = iso(pipeline.modified_at())
    summary = summary or {"name": pipeline.alias, "numTasks": None, "inputs": None}
    record: dict[str, Any] = {
        "id": pipeline.id, **summary, "yamlPath": pipeline.yaml_path, "createdAt": modified, "updatedAt": modified,
        "paused": False, "latestVersionNumber": LOCAL_VERSION_NUMBER,
        "publishedVersionNumber": LOCAL_VERSION_NUMBER, "storageProvider": STORAGE_PROVIDER,
        "repository": repository, "alias": pipeline.alias,
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


TICK_FIELDS = ("id", "pipeline_id", "pipeline_alias", "trigger_kind", "trigger_name", "scheduled_for", "evaluated_at",
               "outcome", "reason", "pipeline_run_id")


def tick_record(row: dict[str, Any]) -> dict[str, Any]:
    """A tick (a local record: ``store/ticks.py``), camelCase like the others."""
    return _camel(row, TICK_FIELDS)


def page_record(page: Any, render: Any) -> dict[str, Any]:
    """``{page, pageSize, total, results}`` of a :class:`~orchestra_local.store.queries.Page`."""
    return {"page": page.page, "pageSize": page.page_size, "total": page.total,
            "results": [render(row) for row in page.results]}
