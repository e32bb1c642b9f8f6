"""Orchestra's task-run and pipeline-run statuses of a Dagster run, read from its event log.

Each op of an exported job records ``orchestra/label`` and ``orchestra/status`` (and attempts,
message, outputs) in the metadata of its output or of its ``Failure``. A static op with neither
event was skipped by Dagster (an upstream yielded nothing) or not executed (an upstream failed):
Orchestra records both SKIPPED. Mapped ops that never ran do not exist in the run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dagster import DagsterEventType, DagsterInstance, JobDefinition

from orchestra_local.spec.statuses import PipelineRunStatus, TaskRunStatus, pipeline_run_status


@dataclass(frozen=True)
class TaskRunView:
    """One task run of a Dagster run as Orchestra would record it.

    Attributes:
        status: SUCCEEDED, WARNING, FAILED or SKIPPED.
        attempts: Attempts made (0 when it never ran).
        message: Orchestra's message (why it skipped or failed).
        outputs: The task's outputs.
    """

    status: TaskRunStatus
    attempts: int = 0
    message: str = ""
    outputs: Any = None


def _metadata_values(metadata: Any) -> dict[str, Any]:
    return {key: getattr(value, "value", value) for key, value in (metadata or {}).items()}


def task_run_views(job: JobDefinition, events: Iterable[Any]) -> dict[str, TaskRunView]:
    """``{label: TaskRunView}`` of one run of an exported job.

    Args:
        job: The exported job (its ops' ``orchestra/label`` tags name the static task runs).
        events: The run's event log entries (``instance.all_logs(run_id)``).
    """
    views = {node.definition.tags["orchestra/label"]: TaskRunView(TaskRunStatus.SKIPPED, message="not executed")
             for node in job.graph.nodes if "orchestra/label" in node.definition.tags}
    for entry in events:
        event = entry.dagster_event
        if event is None:
            continue
        metadata: dict[str, Any] = {}
        if event.event_type == DagsterEventType.STEP_OUTPUT:
            metadata = _metadata_values(event.event_specific_data.metadata)
        elif event.event_type == DagsterEventType.STEP_FAILURE:
            failure = event.event_specific_data.user_failure_data
            metadata = _metadata_values(failure.metadata if failure is not None else None)
            if "orchestra/label" in metadata:
                metadata["orchestra/status"] = TaskRunStatus.FAILED.value
        if "orchestra/label" in metadata and "orchestra/status" in metadata:
            views[metadata["orchestra/label"]] = TaskRunView(
                TaskRunStatus(metadata["orchestra/status"]), int(metadata.get("orchestra/attempts") or 0),
                str(metadata.get("orchestra/message") or ""), metadata.get("orchestra/outputs"))
    return views


def task_statuses(instance: DagsterInstance, run_id: str, job: JobDefinition) -> dict[str, str]:
    """``{label: status}`` of a finished run of an exported job (labels: :mod:`.run_state`)."""
    return {label: view.status.value for label, view in task_run_views(job, instance.all_logs(run_id)).items()}


def pipeline_status(instance: DagsterInstance, run_id: str, job: JobDefinition) -> PipelineRunStatus:
    """Orchestra's status of a finished run of an exported job (``spec/statuses.pipeline_run_status``)."""
    run = instance.get_run_by_id(run_id)
    cancelled = run is not None and run.status.value in ("CANCELED", "CANCELING")
    views = task_run_views(job, instance.all_logs(run_id))
    return pipeline_run_status([view.status for view in views.values()], cancelled=cancelled)
