"""POSTGRES / POSTGRES_RUN_QUERY: run one or more SQL statements in one transaction.

Contract: Orchestra's ``PostgresRunQueryParametersModel`` (read from ``oml_lang``): ``statement``
(required; ``;``-separated statements allowed), ``database`` (override), ``set_outputs`` ("store
query results in task outputs"). Each statement becomes one QUERY operation whose
``rows_affected`` is the rows it wrote (DML) or returned (queries). Outputs: see
:mod:`orchestra_local.integrations.statements`. Connection fields: see the package docstring.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import StrictBool

from orchestra_local.integrations.base import IntegrationParameters, TaskContext, TaskResult
from orchestra_local.integrations.outcomes import settled
from orchestra_local.integrations.postgres import run_sql
from orchestra_local.integrations.statements import query_outputs, statement_operations, summary
from orchestra_local.spec.statuses import TaskRunStatus
from orchestra_local.store import utcnow

SHELL_PARAMETERS: frozenset[str] = frozenset()


class Parameters(IntegrationParameters):
    """Parameters of POSTGRES_RUN_QUERY (Orchestra's names, types and defaults)."""

    statement: str
    database: str | None = None
    set_outputs: StrictBool | None = None


@settled
def execute(ctx: TaskContext, params: Parameters) -> TaskResult:
    """Run the statements once and commit them together.

    Returns:
        SUCCEEDED with one QUERY operation per statement, and ``results``/``row_count`` outputs
        when ``set_outputs`` is true.

    Raises:
        TerminalIntegrationError: Bad connection fields, an SQL error, or too many rows to keep.
        AttemptCancelled: The run was cancelled during the query.
        IntegrationError: Connection failures, timeouts and transient database errors.
    """
    batch = run_sql(ctx, params.statement, database=params.database, keep_rows=bool(params.set_outputs), commit=True)
    completed = utcnow()
    operations = statement_operations(
        ctx, batch.results, started_at=completed - timedelta(seconds=batch.seconds), completed_at=completed
    )
    outputs = query_outputs(batch.results) if params.set_outputs else {}
    return TaskResult(
        TaskRunStatus.SUCCEEDED,
        f"{summary(batch.results)} (committed, {batch.seconds:.2f}s)",
        outputs=outputs,
        operations=operations,
    )
