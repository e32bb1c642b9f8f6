"""The SOQL the worker sends: ``SELECT <fields> FROM <object> [WHERE <cursor> >= <literal>]``.

Contract: SOQL and SOSL Reference, "Date Formats and Date Literals" (``YYYY-MM-DD`` for dates,
``YYYY-MM-DDThh:mm:ssZ`` for date-times, always UTC here) and "Quoted String Escape Sequences"
(backslash escapes inside single quotes). The bound of an incremental read is lowered by the
lookback and, for date-times, rounded down to the second: the query reads a superset of the
rows at or after the watermark, and the merge on ``Id`` makes re-read rows no-ops.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pyarrow as pa

from ingest.errors import UsageError
from ingest.sources.base import CursorFilter
from ingest.sources.salesforce.schema import ObjectSchema, SalesforceField
from ingest.watermark import CursorValue

_STRING_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t", '"': '\\"'}


def select_statement(schema: ObjectSchema, cursor: CursorFilter | None, lookback: dt.timedelta) -> str:
    """The query reading the selected fields, optionally from a lower bound on.

    Args:
        schema: Fields and object.
        cursor: Inclusive lower bound on the cursor field, or None for every row.
        lookback: Subtracted from a date or date-time bound (zero for none).

    Returns:
        The SOQL statement.

    Raises:
        UsageError: If the cursor field is not selected, or a lookback is asked for a cursor that
            is not a date or date-time.
    """
    statement = f"SELECT {', '.join(f.name for f in schema.fields)} FROM {schema.name}"
    if cursor is None:
        return statement
    try:
        field = schema.field(cursor.column)
    except KeyError:
        raise UsageError(
            f"cursor field {cursor.column!r} is not among the fields selected from {schema.name}"
        ) from None
    bound = lowered(cursor.lower_bound, field, lookback)
    return f"{statement} WHERE {field.name} >= {literal(bound, field)}"


def lowered(value: CursorValue, field: SalesforceField, lookback: dt.timedelta) -> CursorValue:
    """The bound minus the lookback (whole days for a date cursor).

    Raises:
        UsageError: If ``lookback`` is positive and the cursor is neither a date nor a date-time.
    """
    if lookback <= dt.timedelta(0):
        return value
    if isinstance(value, dt.datetime):
        return value - lookback
    if isinstance(value, dt.date):
        return value - dt.timedelta(days=math.ceil(lookback / dt.timedelta(days=1)))
    raise UsageError(
        f"--lookback-minutes needs a date or datetime cursor; {field.name} is a {field.salesforce_type} field"
    )


def literal(value: CursorValue, field: SalesforceField) -> str:
    """A SOQL literal for a cursor value of the field's type.

    Args:
        value: A value as :func:`ingest.watermark.parse_cursor_value` returns it for the field's
            Arrow type.
        field: The cursor field.

    Returns:
        The literal: ``2024-05-01T12:00:00Z``, ``2024-05-01``, ``42``, ``12.50``, ``true`` or
        ``'text'``.

    Raises:
        UsageError: If the field's type cannot be compared in SOQL (time fields).
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time) or pa.types.is_time(field.arrow_type):
        raise UsageError(f"{field.name} is a time field, which SOQL cannot filter on; choose another cursor")
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    text = "".join(_STRING_ESCAPES.get(character, character) for character in str(value))
    return f"'{text}'"
