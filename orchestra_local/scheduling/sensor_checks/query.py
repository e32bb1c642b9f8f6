"""POSTGRES_QUERY: the check passes when its statement returns at least one row (**our choice**:
Orchestra documents no pass rule for query sensors; "the condition holds when a row exists" is the
one a ``WHERE`` clause can express, e.g. ``select max(loaded_at) from audit.loads having
max(loaded_at) >= current_date``).

The statement runs on the check's POSTGRES connection (fields as for POSTGRES tasks, see
``orchestra_local.integrations.postgres``) in a **read-only** transaction with a statement timeout,
so a sensor never changes data and a slow query costs one poll. Outputs (the shape of a query
task's ``set_outputs``): ``results``, the first :data:`MAX_RESULT_ROWS` rows as
``{column: value}``, and ``row_count``, their number.
"""

from __future__ import annotations

import sqlalchemy
from pydantic import Field
from sqlalchemy.pool import NullPool

from orchestra_local.integrations.outcomes import TerminalIntegrationError
from orchestra_local.integrations.postgres import CONNECT_TIMEOUT_SECONDS, database_url
from orchestra_local.integrations.statements import jsonable
from orchestra_local.scheduling.sensor_checks.base import (
    CHECK_TIMEOUT_SECONDS,
    CheckContext,
    CheckParameters,
    CheckResult,
    SensorConfigError,
)

MAX_RESULT_ROWS = 100
"""Rows kept in the ``results`` output (and counted in ``row_count``)."""
OUTPUT_KEYS = ("results", "row_count")


class Parameters(CheckParameters):
    """POSTGRES_QUERY parameters (**our names**, those of the POSTGRES_RUN_QUERY task)."""

    statement: str = Field(min_length=1, description="A SELECT; the check passes when it returns a row.")
    database: str | None = Field(None, description="Overrides the connection's database.")


def postgres_query(ctx: CheckContext) -> CheckResult:
    """Run ``parameters.statement`` read-only; pass when it returns a row.

    Raises:
        SensorConfigError: No statement, no POSTGRES connection, bad connection fields.
        sqlalchemy.exc.SQLAlchemyError: The database refused, failed or timed out (the next poll retries).
    """
    params = ctx.parse(Parameters)
    connection = ctx.connection_of("POSTGRES")
    try:
        url = database_url(dict(connection.fields), params.database, connection.name)
    except TerminalIntegrationError as exc:
        raise SensorConfigError(f"{ctx.where}.connection: {exc}") from None
    options = f"-c default_transaction_read_only=on -c statement_timeout={CHECK_TIMEOUT_SECONDS * 1000}"
    engine = sqlalchemy.create_engine(url, poolclass=NullPool,
                                      connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS, "options": options})
    try:
        with engine.connect() as db:
            result = db.exec_driver_sql(params.statement)
            if not result.returns_rows:
                raise SensorConfigError(f"{ctx.where}.parameters.statement returns no rows; a sensor needs a SELECT")
            columns = list(result.keys())
            rows = [{column: jsonable(value) for column, value in zip(columns, row, strict=True)}
                    for row in result.fetchmany(MAX_RESULT_ROWS)]
            db.rollback()
    finally:
        engine.dispose()
    return CheckResult(passed=bool(rows), detail=f"query returned {len(rows)} row(s)",
                       outputs={"results": rows, "row_count": len(rows)})
