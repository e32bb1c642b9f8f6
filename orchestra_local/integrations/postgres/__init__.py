"""POSTGRES: run SQL against the linked PostgreSQL connection (jobs ``run_query`` and ``run_test``).

Contract: Orchestra's ``PostgresRunQueryParametersModel`` and ``PostgresRunTestParametersModel``
(read from ``oml_lang``): ``statement`` holds one or more ``;``-separated statements and the
optional ``database`` overrides the connection's database for the task.

Connection (``integration: POSTGRES``) fields **(our choice; Orchestra's are not public)**: either
``url`` (``postgresql://user:password@host:5432/database``, any SQLAlchemy PostgreSQL URL) or
``host``, ``port`` (default 5432), ``user``, ``password`` (optional with trust or peer
authentication), ``database``, and the optional ``sslmode`` (libpq's, e.g. ``require``).

SQLAlchemy builds the URL and opens the connection (psycopg 3, no pool: nothing stays open after
the attempt); the SQL is sent in one round trip through psycopg, which returns one result per
statement, all inside one transaction: a failing statement leaves nothing behind. The text is sent
as written (no parameters), so ``%`` needs no escaping.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, cast

import psycopg
import sqlalchemy
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from orchestra_local.errors import InvalidParametersError
from orchestra_local.integrations.base import TaskContext
from orchestra_local.integrations.outcomes import TerminalIntegrationError, connection_fields
from orchestra_local.integrations.statements import (
    StatementResult,
    Watchdog,
    check_output_rows,
    database_failure,
)

DRIVER = "postgresql+psycopg"
DEFAULT_PORT = 5432
CONNECT_TIMEOUT_SECONDS = 10
"""libpq ``connect_timeout``, in seconds."""

FIELDS = ("url", "host", "port", "user", "password", "database", "sslmode")


@dataclass(frozen=True)
class Batch:
    """What one run of a task's SQL produced.

    Attributes:
        results: One result per statement, in order.
        seconds: Duration of the whole batch.
    """

    results: list[StatementResult]
    seconds: float


def database_url(fields: dict[str, str], database: str | None, connection_name: str) -> URL:
    """The SQLAlchemy URL of the connection, with the task's ``database`` override applied.

    Raises:
        TerminalIntegrationError: Both or neither of ``url`` and ``host`` given, a URL that is not
            PostgreSQL, a non-numeric port, or no database (values are never echoed).
    """
    where = f"connection '{connection_name}'"
    if "url" in fields:
        if "host" in fields:
            raise TerminalIntegrationError(f"{where} has both url and host; give one of them")
        try:
            url = make_url(fields["url"])
        except sqlalchemy.exc.ArgumentError:
            raise TerminalIntegrationError(f"{where}: field url is not a database URL") from None
        if url.get_backend_name() not in ("postgresql", "postgres"):
            raise TerminalIntegrationError(f"{where}: field url is not a postgresql:// URL")
        url = url.set(drivername=DRIVER)
    elif "host" in fields:
        if "user" not in fields:
            raise TerminalIntegrationError(f"{where} has host but lacks field user")
        port = fields.get("port", str(DEFAULT_PORT))
        if not port.isdigit():
            raise TerminalIntegrationError(f"{where}: field port must be a number")
        url = URL.create(DRIVER, username=fields["user"], password=fields.get("password"), host=fields["host"],
                         port=int(port), database=fields.get("database"))
    else:
        raise TerminalIntegrationError(f"{where} needs either a url field or host, user, password and database fields")
    if "sslmode" in fields:
        url = url.update_query_dict({"sslmode": fields["sslmode"]})
    if database:
        url = url.set(database=database)
    if not url.database:
        raise TerminalIntegrationError(
            f"{where} names no database: add a database field or the task's database parameter"
        )
    return url


def _results(cursor: psycopg.Cursor[Any], keep_rows: bool) -> list[StatementResult]:
    """Walk the results psycopg holds for a multi-statement execution, one per statement."""
    results: list[StatementResult] = []
    while True:
        status = cursor.statusmessage
        if status:  # empty statements (a stray ";" or a comment) produce no status
            returned_rows = cursor.description is not None
            if keep_rows and returned_rows:
                check_output_rows(cursor.rowcount)
            results.append(StatementResult(
                position=len(results) + 1,
                command=status.split(" ", 1)[0],
                status_text=status,
                rows_affected=cursor.rowcount if cursor.rowcount >= 0 else None,
                columns=tuple(c.name for c in cursor.description) if cursor.description is not None else None,
                rows=tuple(cursor.fetchall()) if keep_rows and returned_rows else None,
            ))
        if not cursor.nextset():
            return results


def run_sql(ctx: TaskContext, sql: str, *, database: str | None, keep_rows: bool, commit: bool) -> Batch:
    """Run the task's SQL in one transaction on the linked POSTGRES connection.

    Args:
        ctx: The attempt's context (connection, timeout in seconds, cancellation).
        sql: One or more statements separated by ``;``.
        database: The task's database override, if any.
        keep_rows: Keep returned rows (for ``set_outputs``; at most ``MAX_OUTPUT_ROWS`` each).
        commit: Commit at the end; False rolls back (SQL tests never change data).

    Returns:
        The statements' results and the batch's duration in seconds.

    Raises:
        InvalidParametersError: ``sql`` holds no statement.
        TerminalIntegrationError: Bad connection fields, or an SQL error another attempt cannot
            fix (syntax, missing table, constraint).
        AttemptCancelled: The run was cancelled during the query.
        IntegrationError: The connection failed, the query timed out, or a transient error
            (``OperationalError``: deadlock, lost connection).
    """
    if not sql.strip():
        raise InvalidParametersError("statement is empty")
    fields = connection_fields(ctx, "POSTGRES", optional=FIELDS)
    url = database_url(fields, database, ctx.connection.name if ctx.connection is not None else "")
    engine = sqlalchemy.create_engine(
        url, poolclass=NullPool, hide_parameters=True,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS, "application_name": f"orchestra-local {ctx.task_id}"},
    )
    try:
        try:
            connection = engine.connect()
        except sqlalchemy.exc.DBAPIError as exc:
            raise database_failure(exc.orig if isinstance(exc.orig, Exception) else exc, system="PostgreSQL",
                                   transient=(psycopg.OperationalError,), watchdog=None, ctx=ctx) from exc
        with connection:
            driver = cast("psycopg.Connection[Any]", connection.connection.driver_connection)
            started = time.monotonic()
            with Watchdog(ctx, driver.cancel_safe) as watchdog:
                try:
                    with connection.begin() as transaction:  # rolled back if anything below raises
                        with driver.cursor() as cursor:
                            cursor.execute(sql)  # no parameters: several statements in one round trip
                            results = _results(cursor, keep_rows)
                        if not commit:
                            transaction.rollback()
                except psycopg.Error as exc:
                    raise database_failure(exc, system="PostgreSQL", transient=(psycopg.OperationalError,),
                                           watchdog=watchdog, ctx=ctx) from exc
            if not results:
                raise InvalidParametersError("statement holds no SQL (only comments or ';')")
            return Batch(results, time.monotonic() - started)
    finally:
        engine.dispose()

