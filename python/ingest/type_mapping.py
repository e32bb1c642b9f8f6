"""Map reflected SQLAlchemy column types to the Arrow types of the staged batches.

The mapping is a table of ``(SQLAlchemy type class, rule)`` pairs checked in order, so a subclass
listed before its parent wins (``Float`` before ``Numeric``, ``DateTime`` before ``Date`` is not
needed because they are unrelated, ``Enum`` is a ``String``). Types Arrow cannot take directly
(UUID, JSON, arrays, intervals, unknown vendor types) are read as text: the source database
renders them with ``CAST(... AS TEXT)`` and the column is a string.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeEngine

logger = logging.getLogger(__name__)

# DuckDB (and Arrow's decimal128) hold at most 38 digits.
MAX_DECIMAL_PRECISION = 38
# NUMERIC without a declared precision: the widest decimal, with room for 9 fractional digits.
UNBOUNDED_DECIMAL = pa.decimal128(MAX_DECIMAL_PRECISION, 9)


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
    (sa.Integer, _fixed(pa.int64())),
    (sa.DateTime, _datetime),
    (sa.Date, _fixed(pa.date32())),
    (sa.Time, _fixed(pa.time64("us"))),
    (sa.Interval, _text),
    (postgresql.INTERVAL, _text),
    (sa.Uuid, _text),
    (sa.JSON, _text),
    (sa.ARRAY, _text),
    (sa.LargeBinary, _fixed(pa.binary())),
    (sa.String, _fixed(pa.string())),
)


def column_type(sqlalchemy_type: TypeEngine[Any], column: str = "?") -> ColumnType:
    """Decide the Arrow type of a column from its reflected SQLAlchemy type.

    Args:
        sqlalchemy_type: Type reported by SQLAlchemy reflection, e.g. ``NUMERIC(15, 2)``.
        column: Column name, used only in the warning for unknown types.

    Returns:
        The column's Arrow type: ``Integer`` -> int64, ``Numeric(p, s)`` -> decimal128(p, s)
        (text beyond 38 digits), ``Float`` -> float64, ``Date`` -> date32, ``DateTime`` ->
        timestamp[us] (UTC when the column is time-zone aware), ``Time`` -> time64[us],
        ``Boolean`` -> bool, ``String``/``Text``/``Enum`` -> string, ``LargeBinary`` -> binary;
        UUID, JSON, arrays, intervals and unknown types are read as text.
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
