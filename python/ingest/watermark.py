"""Watermarks of incremental loads: typed cursor values, their stored text form and their JSON.

A watermark is the largest cursor value loaded so far. It is stored in the destination as text
(ISO 8601 for dates and times) and parsed back with the cursor column's Arrow type, so the same
value binds correctly as the lower bound of the next read.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

from ingest.conversion import cast_array

CursorValue = int | float | Decimal | str | bool | dt.date | dt.datetime | dt.time
JsonValue = int | float | str | bool | None


def parse_cursor_value(text: str, arrow_type: pa.DataType) -> CursorValue:
    """Parse the text form of a cursor value into the Python value of the column's type.

    Args:
        text: Text such as ``2024-05-01``, ``2024-05-01T12:00:00+00:00``, ``1500`` or ``12.50``.
        arrow_type: The cursor column's Arrow type.

    Returns:
        The value as the Python type Arrow uses for ``arrow_type`` (``int``, ``Decimal``,
        ``datetime.date``, timezone-aware ``datetime.datetime`` for UTC timestamps, ...).

    Raises:
        ValueError: If ``text`` is not a valid value of that type.
    """
    try:
        value = cast_array(pa.array([text], pa.string()), arrow_type)[0].as_py()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ValueError(f"{text!r} is not a valid {arrow_type} value") from exc
    if value is None:
        raise ValueError(f"{text!r} is not a valid {arrow_type} value")
    return value  # type: ignore[no-any-return]


def format_cursor_value(value: CursorValue) -> str:
    """Render a cursor value as the text :func:`parse_cursor_value` reads back.

    Args:
        value: A value returned by :func:`parse_cursor_value` or :func:`batch_maximum`.

    Returns:
        ISO 8601 for dates, times and timestamps; ``str()`` for numbers and text.
    """
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def cursor_value_json(value: CursorValue | None) -> JsonValue:
    """Render a cursor value for the JSON summary.

    Args:
        value: A cursor value, or None when the load is not incremental.

    Returns:
        Integers, floats, booleans and strings as themselves; decimals and temporal values as
        their text form; None as None.
    """
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return format_cursor_value(value)


def batch_maximum(column: pa.Array | pa.ChunkedArray) -> CursorValue | None:
    """The largest non-null value of a cursor column in one batch.

    Args:
        column: The cursor column of a staged record batch.

    Returns:
        Its maximum as a Python value, or None if the batch holds no non-null value.
    """
    return pc.max(column).as_py()  # type: ignore[no-any-return]


def later(first: CursorValue | None, second: CursorValue | None) -> CursorValue | None:
    """The larger of two cursor values of the same column, ignoring None.

    Args:
        first: A cursor value or None.
        second: A cursor value of the same type, or None.

    Returns:
        The larger value; None only when both are None.
    """
    if first is None:
        return second
    if second is None:
        return first
    return second if second > first else first  # type: ignore[operator]
