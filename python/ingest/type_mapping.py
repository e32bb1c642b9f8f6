"""Map reflected SQLAlchemy column types to the Arrow types of the staged batches.

The mapping is a table of ``(SQLAlchemy type class, rule)`` pairs checked in order, so a subclass
listed before its parent wins (``Float`` before ``Numeric``, MySQL's ``TIMESTAMP`` before
``DateTime``; ``Enum`` is a ``String``). Types Arrow cannot take directly (UUID, JSON, arrays,
intervals, unknown vendor types) are read as text: the source database renders them as text
(JSON for PostgreSQL arrays, see :mod:`ingest.sources.sql_select`) and the column is a string.

Decisions worth knowing:

* ``NUMERIC`` without precision becomes ``decimal128(38, 9)``: exact for the usual money and
  quantity values; a value with more than 29 integer or 9 fractional digits fails the load with
  a message naming the column (never silently rounded). Beyond 38 digits of declared precision
  the column is read as text.
* MySQL ``BIGINT UNSIGNED`` becomes ``decimal128(20, 0)`` (its maximum, 2**64 - 1, does not fit
  int64); the other unsigned integers fit int64. ``BOOLEAN`` in MySQL is ``TINYINT(1)`` and is
  loaded as the integer it is.
* ``TIMESTAMP WITH TIME ZONE`` (and MySQL ``TIMESTAMP``, an instant the server stores in UTC)
  becomes ``timestamp[us, tz=UTC]``: values are normalised to UTC. Timestamps without a time
  zone stay naive ``timestamp[us]``, exactly as stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.types import TypeEngine

logger = logging.getLogger(__name__)

# DuckDB (and Arrow's decimal128) hold at most 38 digits.
MAX_DECIMAL_PRECISION = 38
# NUMERIC without a declared precision: the widest decimal, with room for 9 fractional digits.
UNBOUNDED_DECIMAL = pa.decimal128(MAX_DECIMAL_PRECISION, 9)
# MySQL BIGINT UNSIGNED: up to 18,446,744,073,709,551,615 (20 digits), beyond int64.
UNSIGNED_BIGINT = pa.decimal128(20, 0)


@dataclass(frozen=True)
class ColumnType:
    """How one source column is read and staged.

    Attributes:
        arrow_type: Arrow type of the column in the staged batches and the destination.
        read_as_text: True when the source must render the value as text (``CAST AS TEXT``)
            because Arrow has no faithful type for it; ``arrow_type`` is then ``string``.
    """

    arrow_type: pa.DataType
    read_as_text: bool = False


_TEXT = ColumnType(pa.string(), read_as_text=True)


def _numeric(column_type: TypeEngine[Any]) -> ColumnType:
    precision = getattr(column_type, "precision", None)
    scale = getattr(column_type, "scale", None)
    if precision is None:
        return ColumnType(UNBOUNDED_DECIMAL)
    if precision > MAX_DECIMAL_PRECISION:
        return _TEXT
    return ColumnType(pa.decimal128(precision, scale or 0))


def _integer(column_type: TypeEngine[Any]) -> ColumnType:
    if isinstance(column_type, sa.BigInteger) and getattr(column_type, "unsigned", False):
        return ColumnType(UNSIGNED_BIGINT)
    return ColumnType(pa.int64())


def _datetime(column_type: TypeEngine[Any]) -> ColumnType:
    timezone = bool(getattr(column_type, "timezone", False))
    return ColumnType(pa.timestamp("us", tz="UTC" if timezone else None))


def _fixed(arrow_type: pa.DataType) -> Callable[[TypeEngine[Any]], ColumnType]:
    def rule(_: TypeEngine[Any]) -> ColumnType:
        return ColumnType(arrow_type)

    return rule


def _text(_: TypeEngine[Any]) -> ColumnType:
    return _TEXT


# Checked in order; the first class the column type is an instance of decides.
_RULES: tuple[tuple[type[TypeEngine[Any]], Callable[[TypeEngine[Any]], ColumnType]], ...] = (
    (sa.Boolean, _fixed(pa.bool_())),
    (sa.Float, _fixed(pa.float64())),
    (sa.Numeric, _numeric),
    (sa.Integer, _integer),
    (mysql.YEAR, _fixed(pa.int64())),
    (mysql.TIMESTAMP, _fixed(pa.timestamp("us", tz="UTC"))),
    (sa.DateTime, _datetime),
    (sa.Date, _fixed(pa.date32())),
    (sa.Time, _fixed(pa.time64("us"))),
    (sa.Interval, _text),
    (postgresql.INTERVAL, _text),
    (sa.Uuid, _text),
    (sa.JSON, _text),
    (sa.ARRAY, _text),
    (sa.LargeBinary, _fixed(pa.binary())),
    (sa.BINARY, _fixed(pa.binary())),
    (sa.VARBINARY, _fixed(pa.binary())),
    (sa.String, _fixed(pa.string())),
)


def column_type(sqlalchemy_type: TypeEngine[Any], column: str = "?") -> ColumnType:
    """Decide the Arrow type of a column from its reflected SQLAlchemy type.

    Args:
        sqlalchemy_type: Type reported by SQLAlchemy reflection, e.g. ``NUMERIC(15, 2)``.
        column: Column name, used only in the warning for unknown types.

    Returns:
        The column's Arrow type: ``Integer`` -> int64 (MySQL ``BIGINT UNSIGNED`` ->
        decimal128(20, 0)), ``Numeric(p, s)`` -> decimal128(p, s) (unbounded ->
        decimal128(38, 9), text beyond 38 digits), ``Float`` -> float64, ``Date`` -> date32,
        ``DateTime`` -> timestamp[us] (UTC when the column is time-zone aware, and for MySQL
        ``TIMESTAMP``), ``Time`` -> time64[us], ``Boolean`` -> bool, ``String``/``Text``/``Enum``
        -> string, ``LargeBinary``/``BINARY``/``VARBINARY`` -> binary; UUID, JSON, arrays,
        intervals and unknown types are read as text.
    """
    for base, rule in _RULES:
        if isinstance(sqlalchemy_type, base):
            return rule(sqlalchemy_type)
    logger.warning(
        "column %s has type %s, which has no Arrow mapping; reading it as text",
        column,
        sqlalchemy_type,
    )
    return _TEXT
