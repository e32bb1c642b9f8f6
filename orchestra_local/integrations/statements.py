"""What the SQL integrations (POSTGRES, MOTHERDUCK) share once a statement has run.

- :class:`StatementResult`: one statement's outcome, whatever the database.
- :class:`Watchdog`: interrupts a running query when the run is cancelled or the attempt's
  ``timeout`` (seconds) passes, through the driver's own thread-safe interrupt.
- :func:`database_failure`: a driver error as the attempt's failure. Following DB-API 2.0, an
  ``OperationalError`` (connection lost, lock held, deadlock, out of memory) is worth another
  attempt; every other error (syntax, missing table, constraint) is terminal.
- :func:`query_outputs` and :func:`statement_operations`: outputs and QUERY operations.

Outputs with ``set_outputs: true`` **(our choice of shape; Orchestra documents only "store query
results in task outputs", and its own examples read ``OUTPUTS['results']``)**: ``results``, the
rows of the last statement that returned rows as a list of ``{column: value}`` objects (dates as
ISO 8601 text, decimals as numbers), and ``row_count``.
"""

from __future__ import annotations

import enum
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as time_of_day
from decimal import Decimal
from types import TracebackType
from typing import Any
from uuid import UUID

from orchestra_local.errors import IntegrationError
from orchestra_local.integrations.base import TaskContext
from orchestra_local.integrations.outcomes import AttemptCancelled, TerminalIntegrationError
from orchestra_local.spec.statuses import OperationStatus, OperationType

MAX_OUTPUT_ROWS = 1000
"""Most rows ``set_outputs`` stores; a larger result fails the attempt (and rolls back) rather than being cut."""

POLL_SECONDS = 0.1
"""How often the watchdog looks at the cancellation flag and the clock."""


@dataclass(frozen=True)
class StatementResult:
    """The outcome of one statement of a task's SQL.

    Attributes:
        position: 1-based position of the statement in the task's SQL.
        command: The statement's kind, e.g. ``INSERT``, ``SELECT``, ``CREATE``.
        status_text: The database's own status line, e.g. ``INSERT 0 3``.
        rows_affected: Rows written by DML, or rows returned by a query; None when unknown.
        columns: Column names when the statement returned rows, else None.
        rows: The returned rows when they were kept (``set_outputs``), else None.
        seconds: Duration of this statement, when measured on its own.
    """

    position: int
    command: str
    status_text: str
    rows_affected: int | None
    columns: tuple[str, ...] | None = None
    rows: tuple[tuple[Any, ...], ...] | None = None
    seconds: float | None = None


class Watchdog:
    """Calls ``interrupt`` once when the run is cancelled or the attempt's timeout passes.

    Use as a context manager around the queries; ``reason`` then says why, if it fired.

    Args:
        ctx: The attempt's context (its ``timeout`` in seconds and cancellation flag).
        interrupt: The driver's thread-safe interrupt (``psycopg.Connection.cancel_safe``,
            ``duckdb.DuckDBPyConnection.interrupt``).
    """

    CANCELLED = "cancelled"
    TIMED_OUT = "timed out"

    def __init__(self, ctx: TaskContext, interrupt: Callable[[], None]):
        self._ctx = ctx
        self._interrupt = interrupt
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=f"watchdog-{ctx.task_run_id}", daemon=True)
        self.reason: str | None = None

    def __enter__(self) -> Watchdog:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._done.set()
        self._thread.join()

    def _watch(self) -> None:
        deadline = time.monotonic() + self._ctx.timeout if self._ctx.timeout is not None else None
        while not self._done.wait(POLL_SECONDS):
            if self._ctx.cancelled:
                self.reason = self.CANCELLED
            elif deadline is not None and time.monotonic() >= deadline:
                self.reason = self.TIMED_OUT
            else:
                continue
            self._interrupt()
            return


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an error's text (drivers append SQL excerpts and hints below)."""
    return next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)


def database_failure(
    exc: Exception, *, system: str, transient: tuple[type[Exception], ...], watchdog: Watchdog | None, ctx: TaskContext
) -> IntegrationError:
    """The failure to raise for a driver error.

    Args:
        exc: The driver's exception.
        system: ``PostgreSQL`` or ``DuckDB``, for the message.
        transient: Exception classes another attempt may get past (the driver's ``OperationalError``).
        watchdog: The watchdog that guarded the query, if any (it explains an interruption).
        ctx: The attempt's context.

    Returns:
        :class:`AttemptCancelled`, a retryable :class:`IntegrationError` (timeout or transient
        error) or a :class:`TerminalIntegrationError`, carrying the error's first line and SQLSTATE.
    """
    if watchdog is not None and watchdog.reason == Watchdog.CANCELLED:
        return AttemptCancelled(f"cancelled: the {system} query was interrupted")
    if watchdog is not None and watchdog.reason == Watchdog.TIMED_OUT:
        return IntegrationError(f"timed out after {ctx.timeout:g} seconds: the {system} query was interrupted")
    sqlstate = getattr(exc, "sqlstate", None)
    message = f"{system} error{f' {sqlstate}' if sqlstate else ''}: {first_line(exc)}"
    return IntegrationError(message) if isinstance(exc, transient) else TerminalIntegrationError(message)


def check_output_rows(row_count: int) -> None:
    """Refuse to keep more rows than ``MAX_OUTPUT_ROWS`` as outputs (called inside the transaction).

    Raises:
        TerminalIntegrationError: Too many rows; raising it rolls the statements back.
    """
    if row_count > MAX_OUTPUT_ROWS:
        raise TerminalIntegrationError(
            f"set_outputs keeps at most {MAX_OUTPUT_ROWS} rows, but the last result has {row_count}; "
            "aggregate or limit the final query (nothing was committed)"
        )


def jsonable(value: Any) -> Any:
    """A database value as JSON data: numbers stay numbers, dates become ISO 8601 text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            return str(value)
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (datetime, date, time_of_day)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    return str(value)


def query_outputs(results: Sequence[StatementResult]) -> dict[str, Any]:
    """``results`` and ``row_count`` from the last statement that returned rows (none: empty)."""
    last = next((r for r in reversed(results) if r.columns is not None and r.rows is not None), None)
    if last is None or last.columns is None or last.rows is None:
        return {"results": [], "row_count": 0}
    rows = [{column: jsonable(value) for column, value in zip(last.columns, row, strict=True)} for row in last.rows]
    return {"results": rows, "row_count": len(rows)}


def operation_record(
    ctx: TaskContext,
    *,
    name: str,
    operation_type: OperationType,
    status: OperationStatus,
    external_id: str,
    started_at: datetime,
    completed_at: datetime,
    duration: float | None,
    rows_affected: int | None,
    external_status: str | None = None,
    external_detail: str | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    """One row for the ``operations`` table, tied to this attempt's task run.

    Args:
        ctx: The attempt's context.
        name: ``operationName``.
        operation_type: ``operationType`` (QUERY, TEST, ...).
        status: ``operationStatus``.
        external_id: ``externalId``: stable across runs of the same task.
        started_at: When the work started (UTC).
        completed_at: When it ended (UTC).
        duration: ``operationDuration`` in seconds, when measured.
        rows_affected: ``rowsAffected``.
        external_status: The database's own status (cut to the column's 64 characters).
        external_detail: Extra detail, e.g. JSON text.
        message: One line for people.
    """
    return {
        "pipeline_run_id": ctx.pipeline_run_id,
        "task_run_id": ctx.task_run_id,
        "operation_name": name,
        "operation_status": status.value,
        "operation_type": operation_type.value,
        "external_id": external_id,
        "external_status": external_status[:64] if external_status is not None else None,
        "external_detail": external_detail,
        "message": message,
        "integration": ctx.integration,
        "integration_job": ctx.integration_job,
        "started_at": started_at,
        "completed_at": completed_at,
        "operation_duration": duration,
        "rows_affected": rows_affected,
    }


def statement_operations(
    ctx: TaskContext, results: Sequence[StatementResult], *, started_at: datetime, completed_at: datetime
) -> list[dict[str, Any]]:
    """One SUCCEEDED QUERY operation per statement.

    ``started_at``/``completed_at`` bound the whole batch; ``operation_duration`` is set only when
    the statement was timed on its own.
    """
    return [
        operation_record(
            ctx,
            name=f"{ctx.task_id}: {result.command} (statement {result.position} of {len(results)})",
            operation_type=OperationType.QUERY,
            status=OperationStatus.SUCCEEDED,
            external_id=f"{ctx.task_id}.statement_{result.position}",
            started_at=started_at,
            completed_at=completed_at,
            duration=result.seconds,
            rows_affected=result.rows_affected,
            external_status=result.status_text,
        )
        for result in results
    ]


def summary(results: Sequence[StatementResult]) -> str:
    """One line: how many statements ran and what they did, e.g. ``2 statements: CREATE, INSERT 3``."""
    parts = [r.status_text for r in results[:5]] + (["..."] if len(results) > 5 else [])
    noun = "statement" if len(results) == 1 else "statements"
    return f"{len(results)} {noun}: {', '.join(parts)}"
