"""The ``sql`` sensor: a query against any SQLAlchemy database, met when it returns a row.

``--expect`` compares the first column of the first row with a number (``>0``, ``>=100``, ``=1``,
``!=0``, ``<5``); without it, any row meets the condition. The first row becomes the outputs (column
name -> value; dates and decimals as text). The query runs in a transaction that is always rolled
back, so a sensor never changes the database; a database that cannot be reached is "cannot tell
yet" (poked again), a query the database rejects fails the task at once.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import sqlalchemy
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.pool import NullPool
from worker_kit.connection import describe_url, mask_secrets
from worker_kit.errors import TransientError, UsageError, WorkerError

from sensors.poke import Poke

_COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge, "<=": operator.le, "!=": operator.ne, ">": operator.gt, "<": operator.lt, "=": operator.eq,
}
_EXPECT = re.compile(r"^\s*(>=|<=|!=|>|<|=)\s*(-?\d+(?:\.\d+)?)\s*$")


class QueryFailed(WorkerError):
    """The database rejected the query (syntax, missing table, permissions): waiting cannot fix it."""


def parse_expect(text: str | None) -> tuple[str, Decimal] | None:
    """``">0"`` -> ``(">", Decimal(0))``; None for no comparator.

    Raises:
        UsageError: The text is not an operator (``>``, ``>=``, ``<``, ``<=``, ``=``, ``!=``) and a number.
    """
    if text is None:
        return None
    match = _EXPECT.match(text)
    if not match:
        raise UsageError(f"--expect {text!r}: write an operator and a number, e.g. '>0' or '>=100'")
    return match.group(1), Decimal(match.group(2))


@dataclass
class SqlCheck:
    """One poke of a query (a :data:`sensors.poke.Check`).

    Args:
        url: The database (from the environment variable ``--url-env`` names).
        query: A SELECT; it runs as given, in a transaction that is rolled back.
        expect: Comparator from :func:`parse_expect`, or None for "any row".
    """

    url: URL
    query: str
    expect: tuple[str, Decimal] | None = None

    def __post_init__(self) -> None:
        # NullPool: every poke opens a fresh connection, so a database restarted between pokes is fine.
        self._engine = sqlalchemy.create_engine(self.url, poolclass=NullPool)

    def __call__(self) -> Poke:
        """Run the query once; see the module docstring."""
        where = describe_url(self.url)
        try:
            with self._engine.connect() as connection:
                try:
                    row = connection.execute(sqlalchemy.text(self.query)).mappings().first()
                finally:
                    connection.rollback()
        except OperationalError as exc:
            if exc.connection_invalidated or _is_connect_failure(exc):
                raise TransientError(f"{where}: {_first_line(exc)}") from None
            raise QueryFailed(f"{where}: the query failed: {_first_line(exc)}") from None
        except (DBAPIError, SQLAlchemyError) as exc:
            raise QueryFailed(f"{where}: the query failed: {_first_line(exc)}") from None
        if row is None:
            return Poke(False, "the query returned no row")
        outputs = {str(key): _json_ready(value) for key, value in row.items()}
        if self.expect is None:
            return Poke(True, "the query returned a row", {"row": outputs, **outputs})
        symbol, target = self.expect
        first = next(iter(row.values()))
        try:
            value = Decimal(str(first))
        except ArithmeticError:
            raise QueryFailed(f"--expect {symbol}{target}: the first column is {first!r}, not a number") from None
        met = _COMPARATORS[symbol](value, target)
        return Poke(met, f"first column {value} {symbol} {target} is {str(met).lower()}", {"row": outputs, **outputs})


def _is_connect_failure(exc: OperationalError) -> bool:
    """True when the error happened before the query reached the server (refused, DNS, server down)."""
    text = str(exc.orig).lower()
    return any(sign in text for sign in ("connection refused", "could not connect", "connection failed",
                                         "server closed", "can't connect", "timeout", "unable to open database"))


def _first_line(exc: BaseException) -> str:
    """The driver's message, first line, passwords masked."""
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).strip().splitlines()
    return mask_secrets(text[0] if text else type(inner).__name__)


def _json_ready(value: Any) -> Any:
    """Dates, times and decimals as text; bytes as hex; JSON scalars unchanged."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, Mapping | list):
        return value
    return str(value)
