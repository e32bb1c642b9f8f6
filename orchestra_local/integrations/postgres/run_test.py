"""POSTGRES / POSTGRES_RUN_TEST: an SQL data test judged by the number of rows it returns.

Contract: Orchestra's ``PostgresRunTestParametersModel`` (read from ``oml_lang``): ``statement``
(required), ``database`` (override), ``error_threshold_expression`` and
``warn_threshold_expression`` (both default ``> 0``; format in
:mod:`orchestra_local.integrations.thresholds`). The rows returned by the last statement are
counted: meeting the error threshold fails the task, else meeting the warn threshold makes it
WARNING, else it succeeds. One TEST operation records the outcome with ``rows_affected`` = the
count. The test runs in a transaction that is rolled back **(our choice)**: a test never changes
data, even if its SQL does.
"""

from __future__ import annotations

import json
from datetime import timedelta

from orchestra_local.errors import InvalidParametersError
from orchestra_local.integrations.base import IntegrationParameters, TaskContext, TaskResult
from orchestra_local.integrations.outcomes import settled
from orchestra_local.integrations.postgres import run_sql
from orchestra_local.integrations.statements import operation_record
from orchestra_local.integrations.thresholds import (
    DEFAULT_THRESHOLD,
    ThresholdExpression,
    parse_threshold,
    status_for_count,
)
from orchestra_local.spec.statuses import OperationStatus, OperationType, TaskRunStatus
from orchestra_local.store import utcnow

SHELL_PARAMETERS: frozenset[str] = frozenset()


class Parameters(IntegrationParameters):
    """Parameters of POSTGRES_RUN_TEST (Orchestra's names, types and defaults)."""

    statement: str
    database: str | None = None
    error_threshold_expression: ThresholdExpression = DEFAULT_THRESHOLD
    warn_threshold_expression: ThresholdExpression = DEFAULT_THRESHOLD


@settled
def execute(ctx: TaskContext, params: Parameters) -> TaskResult:
    """Run the test query once and judge its row count.

    Returns:
        FAILED, WARNING or SUCCEEDED by the thresholds, with one TEST operation.

    Raises:
        InvalidParametersError: The SQL returns no rows to count (its last statement is not a query).
        TerminalIntegrationError: Bad connection fields, or an SQL error.
        AttemptCancelled: The run was cancelled during the query.
        IntegrationError: Connection failures, timeouts and transient database errors.
    """
    error = parse_threshold(params.error_threshold_expression)
    warn = parse_threshold(params.warn_threshold_expression)
    batch = run_sql(ctx, params.statement, database=params.database, keep_rows=False, commit=False)
    last = batch.results[-1]
    if last.columns is None or last.rows_affected is None:
        raise InvalidParametersError(f"the test's last statement is a {last.command}, not a query: "
                                       "end statement with a SELECT returning the failing rows")
    count = last.rows_affected
    status = status_for_count(count, error, warn)
    verdict = {
        TaskRunStatus.FAILED: f"meets the error threshold '{error}'",
        TaskRunStatus.WARNING: f"meets the warn threshold '{warn}'",
        TaskRunStatus.SUCCEEDED: f"meets neither the error threshold '{error}' nor the warn threshold '{warn}'",
    }[status]
    message = f"{count} row{'' if count == 1 else 's'} returned: {verdict}"
    completed = utcnow()
    operation = operation_record(
        ctx,
        name=ctx.task_id,
        operation_type=OperationType.TEST,
        status=OperationStatus(status.value),
        external_id=f"{ctx.task_id}.test",
        started_at=completed - timedelta(seconds=batch.seconds),
        completed_at=completed,
        duration=batch.seconds,
        rows_affected=count,
        external_status=status.value,
        external_detail=json.dumps({"row_count": count, "error_threshold_expression": str(error),
                                    "warn_threshold_expression": str(warn)}),
        message=message,
    )
    return TaskResult(status, message, operations=[operation], external_status=str(count))
