"""Arrow column types -> PostgreSQL column types, named as PostgreSQL's ``format_type`` names them.

The names double as DDL and as what ``format_type(atttypid, atttypmod)`` reports for an existing
column, so a staged column and a table column have the same type exactly when their names are
equal. Arrow has no unsigned or 8-bit integer type in PostgreSQL: they widen to the next signed
type (``uint64`` to ``numeric(20,0)``). Timestamps keep microseconds, PostgreSQL's precision
(nanoseconds are rounded by the server). Nested Arrow types (lists, structs, maps) have no
column type here: sources deliver JSON as text.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from ingest.errors import SchemaConflictError

# Arrow's largest unsigned integer needs 20 decimal digits.
_UINT64 = "numeric(20,0)"
_FIXED: dict[pa.DataType, str] = {
    pa.bool_(): "boolean",
    pa.int8(): "smallint",
    pa.int16(): "smallint",
    pa.int32(): "integer",
    pa.int64(): "bigint",
    pa.uint8(): "smallint",
    pa.uint16(): "integer",
    pa.uint32(): "bigint",
    pa.uint64(): _UINT64,
    pa.float16(): "real",
    pa.float32(): "real",
    pa.float64(): "double precision",
    pa.string(): "text",
    pa.large_string(): "text",
    pa.string_view(): "text",
    pa.null(): "text",
    pa.binary(): "bytea",
    pa.large_binary(): "bytea",
    pa.binary_view(): "bytea",
    pa.date32(): "date",
    pa.date64(): "date",
}


@dataclass(frozen=True)
class PostgresColumn:
    """A staged column as PostgreSQL stores it.

    Attributes:
        name: Column name (case preserved; always quoted in SQL).
        type: PostgreSQL type in ``format_type`` spelling, e.g. ``numeric(15,2)``.
    """

    name: str
    type: str


def postgres_type(arrow_type: pa.DataType) -> str | None:
    """The PostgreSQL type of an Arrow type, or None when there is none.

    Args:
        arrow_type: Type of a staged column.

    Returns:
        ``boolean``, ``smallint``/``integer``/``bigint``, ``numeric(p,s)``, ``real``,
        ``double precision``, ``text``, ``bytea``, ``date``, ``time without time zone``,
        ``timestamp without time zone`` or ``timestamp with time zone``; None for nested,
        dictionary, duration and interval types.
    """
    fixed = _FIXED.get(arrow_type)
    if fixed is not None:
        return fixed
    if pa.types.is_decimal(arrow_type):
        return f"numeric({arrow_type.precision},{arrow_type.scale})"
    if pa.types.is_timestamp(arrow_type):
        zone = "with" if arrow_type.tz is not None else "without"
        return f"timestamp {zone} time zone"
    if pa.types.is_time(arrow_type):
        return "time without time zone"
    if pa.types.is_fixed_size_binary(arrow_type):
        return "bytea"
    return None


def postgres_columns(schema: pa.Schema) -> list[PostgresColumn]:
    """The PostgreSQL columns of a staged Arrow schema, in order.

    Args:
        schema: Schema of the staging file.

    Returns:
        One column per field.

    Raises:
        SchemaConflictError: If a field's type has no PostgreSQL column type; the message names
            every such field.
    """
    columns = [PostgresColumn(f.name, postgres_type(f.type) or "") for f in schema]
    unsupported = [f"{f.name} ({f.type})" for f, c in zip(schema, columns, strict=True) if not c.type]
    if unsupported:
        raise SchemaConflictError(
            f"the postgres destination has no column type for {', '.join(unsupported)}; "
            f"deliver such values as JSON text"
        )
    return columns
