"""MOTHERDUCK / MOTHERDUCK_EXECUTE_QUERY: run SQL against a local DuckDB file instead of MotherDuck.

Contract: Orchestra's ``MotherDuckExecuteQueryParametersModel`` (read from ``oml_lang``): ``query``
(required; "one or more SQL statements" run with the DuckDB Python client) and ``set_outputs``
("store query results in task outputs"; shape in :mod:`orchestra_local.integrations.statements`).

Locally **(our choice)** the connection (``integration: MOTHERDUCK``) names a DuckDB file in its
``path`` field (relative paths start at the repository root) and the runner never contacts
MotherDuck: ``md:`` paths are refused. DuckDB lets one process write a file at a time, so the file
is opened for the query alone and closed at once, leaving it free for ingestion workers and dbt.
The statements run one by one in one transaction (committed at the end, so a failing statement
leaves nothing behind) unless the SQL manages its own with BEGIN/COMMIT. Each statement becomes
one QUERY operation with its own duration; ``rows_affected`` is the rows it changed or returned.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
from pydantic import StrictBool

from orchestra_local.errors import InvalidParametersError
from orchestra_local.integrations.base import IntegrationParameters, TaskContext, TaskResult
from orchestra_local.integrations.outcomes import TerminalIntegrationError, connection_fields, settled
from orchestra_local.integrations.statements import (
    StatementResult,
    Watchdog,
    check_output_rows,
    database_failure,
    query_outputs,
    statement_operations,
    summary,
)
from orchestra_local.spec.statuses import TaskRunStatus
from orchestra_local.store import utcnow

SHELL_PARAMETERS: frozenset[str] = frozenset()

TRANSIENT_ERRORS: tuple[type[Exception], ...] = (duckdb.OperationalError, duckdb.InterruptException)
"""Lock held by another process, I/O, out of memory, interrupted: worth another attempt."""

COUNTING_STATEMENTS = frozenset({
    duckdb.StatementType.INSERT, duckdb.StatementType.UPDATE, duckdb.StatementType.DELETE,
    duckdb.StatementType.MERGE_INTO, duckdb.StatementType.COPY, duckdb.StatementType.CREATE,
})
"""Statement kinds whose result is DuckDB's single ``Count`` column (rows changed), not data.

Other non-SELECT statements (DROP, SET, ATTACH, ...) answer with a single ``Success`` column.
"""


class Parameters(IntegrationParameters):
    """Parameters of MOTHERDUCK_EXECUTE_QUERY (Orchestra's names, types and defaults)."""

    query: str
    set_outputs: StrictBool | None = None


def database_file(ctx: TaskContext, path: str) -> Path:
    """The DuckDB file named by the connection's ``path`` field.

    Raises:
        TerminalIntegrationError: A MotherDuck (``md:``) path, or a folder that does not exist.
    """
    if path.lower().startswith(("md:", "motherduck:")):
        raise TerminalIntegrationError("the local runner never contacts MotherDuck: set the connection's path "
                                       "field to a DuckDB file")
    file = Path(path).expanduser()
    file = file if file.is_absolute() else ctx.repo_root / file
    if not file.parent.is_dir():
        raise TerminalIntegrationError("the folder of the connection's DuckDB path does not exist")
    return file


def _statements(query: str) -> list[duckdb.Statement]:
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise InvalidParametersError(f"query cannot be parsed: {str(exc).splitlines()[0]}") from exc
    if not statements:
        raise InvalidParametersError("query holds no SQL statement")
    return statements


def _run(con: duckdb.DuckDBPyConnection, statements: list[duckdb.Statement], keep_rows: bool) -> list[StatementResult]:
    results: list[StatementResult] = []
    for position, statement in enumerate(statements, start=1):
        started = time.monotonic()
        cursor = con.execute(statement)
        command = statement.type.name
        columns = tuple(d[0] for d in cursor.description) if cursor.description else None
        rows: list[tuple[Any, ...]] | None = None
        if statement.type in COUNTING_STATEMENTS and columns == ("Count",):
            row = cursor.fetchone()
            affected: int | None = int(row[0]) if row is not None else None
            columns = None
        elif columns == ("Success",) and statement.type != duckdb.StatementType.SELECT:
            affected, columns = None, None  # DROP, SET, ATTACH, CHECKPOINT: a status, not data
        elif columns is not None:
            rows = cursor.fetchall()
            affected = len(rows)
            if keep_rows:
                check_output_rows(affected)
        else:
            affected = None
        results.append(StatementResult(
            position=position, command=command,
            status_text=command if affected is None else f"{command} {affected}",
            rows_affected=affected, columns=columns,
            rows=tuple(rows) if keep_rows and rows is not None else None,
            seconds=time.monotonic() - started,
        ))
    return results


@settled
def execute(ctx: TaskContext, params: Parameters) -> TaskResult:
    """Open the DuckDB file, run the statements, commit, close.

    Returns:
        SUCCEEDED with one QUERY operation per statement, and ``results``/``row_count`` outputs
        when ``set_outputs`` is true.

    Raises:
        InvalidParametersError: ``query`` holds no statement or does not parse.
        TerminalIntegrationError: No MOTHERDUCK connection with a ``path``, SQL that fails, or
            too many rows to keep as outputs.
        AttemptCancelled: The run was cancelled during the query.
        IntegrationError: The file is locked by another process, I/O errors, timeouts.
    """
    file = database_file(ctx, connection_fields(ctx, "MOTHERDUCK", required=("path",))["path"])
    statements = _statements(params.query)
    own_transaction = not any(s.type == duckdb.StatementType.TRANSACTION for s in statements)
    keep_rows = bool(params.set_outputs)
    try:
        con = duckdb.connect(str(file))
    except duckdb.Error as exc:
        raise database_failure(exc, system="DuckDB", transient=TRANSIENT_ERRORS, watchdog=None, ctx=ctx) from exc
    started = time.monotonic()
    try:
        with Watchdog(ctx, con.interrupt) as watchdog:
            try:
                if own_transaction:
                    con.begin()
                results = _run(con, statements, keep_rows)
                if own_transaction:
                    con.commit()
            except duckdb.Error as exc:
                raise database_failure(exc, system="DuckDB", transient=TRANSIENT_ERRORS, watchdog=watchdog,
                                       ctx=ctx) from exc
    finally:
        con.close()  # uncommitted work is rolled back; the file is free for other processes again
    seconds = time.monotonic() - started
    completed = utcnow()
    operations = statement_operations(ctx, results, started_at=completed - timedelta(seconds=seconds),
                                      completed_at=completed)
    return TaskResult(
        TaskRunStatus.SUCCEEDED,
        f"{summary(results)} ({'committed' if own_transaction else 'own transactions'}, {seconds:.2f}s)",
        outputs=query_outputs(results) if keep_rows else {},
        operations=operations,
    )
