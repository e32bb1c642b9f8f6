"""Status and type vocabularies of Orchestra runs (orchestra-contract section 3).

Values are the enums of Orchestra's public OpenAPI document (``PipelineRunStatus``,
``TaskRunStatus``, ``OperationStatus``, ``OperationType``, ``AlertLevelTypes``).
"""

from __future__ import annotations

from enum import StrEnum


class PipelineRunStatus(StrEnum):
    """Status of a pipeline run."""

    CREATED = "CREATED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    WARNING = "WARNING"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    CANCELLING = "CANCELLING"
    CANCELLED = "CANCELLED"


class TaskRunStatus(StrEnum):
    """Status of a task run."""

    CREATED = "CREATED"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    WARNING = "WARNING"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    CANCELLING = "CANCELLING"
    CANCELLED = "CANCELLED"

    @property
    def is_terminal(self) -> bool:
        """True once the run can no longer change."""
        return self in TERMINAL_TASK_STATUSES

    @property
    def is_ok(self) -> bool:
        """True for the statuses that let downstream tasks run under the default rule."""
        return self in (TaskRunStatus.SUCCEEDED, TaskRunStatus.WARNING)


TERMINAL_TASK_STATUSES = frozenset(
    {
        TaskRunStatus.SUCCEEDED,
        TaskRunStatus.WARNING,
        TaskRunStatus.FAILED,
        TaskRunStatus.SKIPPED,
        TaskRunStatus.CANCELLED,
    }
)


class OperationStatus(StrEnum):
    """Status of an operation (one unit inside a task run, e.g. a dbt node)."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    WARNING = "WARNING"
    CANCELLED = "CANCELLED"
    UNKNOWN = "UNKNOWN"
    REUSED = "REUSED"


class OperationType(StrEnum):
    """Kind of an operation."""

    AGGREGATION = "AGGREGATION"
    ANALYSIS = "ANALYSIS"
    DEPLOY = "DEPLOY"
    INGESTION = "INGESTION"
    ITERATOR = "ITERATOR"
    MATERIALISATION = "MATERIALISATION"
    OPERATION = "OPERATION"
    QUERY = "QUERY"
    REFRESH = "REFRESH"
    REVERSE_ETL = "REVERSE_ETL"
    SEED = "SEED"
    SNAPSHOT = "SNAPSHOT"
    SOURCE = "SOURCE"
    TEST = "TEST"
    TEST_GROUP = "TEST_GROUP"
    TRIGGER = "TRIGGER"
    UNKNOWN = "UNKNOWN"


class AlertStatus(StrEnum):
    """Statuses an alert can fire on."""

    ANY_COMPLETED = "ANY_COMPLETED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"
    SUCCEEDED = "SUCCEEDED"
    WARNING = "WARNING"
    SKIPPED = "SKIPPED"


def matrix_parent_status(children: list[TaskRunStatus]) -> TaskRunStatus:
    """Status of a matrix parent task run from its children's final statuses (our choice).

    FAILED if any child failed; else CANCELLED if any was cancelled; else WARNING if any warned;
    SKIPPED if all were skipped (or there are none); otherwise SUCCEEDED.
    """
    for status in (TaskRunStatus.FAILED, TaskRunStatus.CANCELLED, TaskRunStatus.WARNING):
        if status in children:
            return status
    if all(child == TaskRunStatus.SKIPPED for child in children):
        return TaskRunStatus.SKIPPED
    return TaskRunStatus.SUCCEEDED


def pipeline_run_status(tasks: list[TaskRunStatus], *, cancelled: bool) -> PipelineRunStatus:
    """Status of a finished pipeline run (orchestra-contract section 3, our choice where undocumented).

    Args:
        tasks: Final statuses of the run's task runs (matrix children, not their parents).
        cancelled: The run was cancelled.

    Returns:
        CANCELLED if cancelled; FAILED if any task failed; else WARNING if any warned; SKIPPED if
        every task was skipped; otherwise SUCCEEDED.
    """
    if cancelled:
        return PipelineRunStatus.CANCELLED
    if TaskRunStatus.FAILED in tasks:
        return PipelineRunStatus.FAILED
    if TaskRunStatus.WARNING in tasks:
        return PipelineRunStatus.WARNING
    if tasks and all(status == TaskRunStatus.SKIPPED for status in tasks):
        return PipelineRunStatus.SKIPPED
    return PipelineRunStatus.SUCCEEDED
