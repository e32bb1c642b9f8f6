"""Turn driver rows into Arrow record batches, column-wise and vectorised.

A batch of rows (tuples of the driver's own Python values) becomes one Arrow struct array in a
single C++ call, typed with each column's *wire* type: what the driver hands back (SQLite returns
dates as ISO text and decimals as floats, psycopg can return numerics as text). Each child array
is then cast to the column's target type with Arrow compute, so no Python code runs per value.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from ingest.errors import ConversionError

_EPOCH_DATE_PREFIX = "1970-01-01 "


def cast_array(array: pa.Array, target: pa.DataType) -> pa.Array:
    """Cast an array to ``target``, refusing lossy conversions.

    Binary input is raw text from a driver: it is decoded as UTF-8 first. Arrow has no direct
    cast from text to ``time64``; such values are parsed as timestamps on 1970-01-01 and the
    time of day is kept. Integers (SQLite's whole-number decimals, as ADBC infers them) reach a
    narrow decimal through ``decimal128(38, scale)``.

    Args:
        array: Values in their wire type.
        target: The column's target Arrow type.

    Returns:
        The array in ``target`` type (the same object when it already has that type).

    Raises:
        pyarrow.ArrowInvalid: If a value cannot be represented in ``target``.
        pyarrow.ArrowNotImplementedError: If Arrow has no cast between the two types.
    """
    if array.type == target:
        return array
    if pa.types.is_binary(array.type):
        array = pc.cast(array, pa.string())  # raw text from the driver; validates UTF-8
        if target == array.type:
            return array
    if pa.types.is_time(target) and pa.types.is_string(array.type):
        on_epoch = pc.binary_join_element_wise(_EPOCH_DATE_PREFIX, array, "")
        return pc.cast(pc.cast(on_epoch, pa.timestamp("us")), target)
    if pa.types.is_integer(array.type) and pa.types.is_decimal(target) and target.precision < 38:
        # Arrow wants room for every int64 digit; go through the widest decimal, then narrow
        # (a safe cast: a value that does not fit still fails).
        array = pc.cast(array, pa.decimal128(38, target.scale))
    return pc.cast(array, target)


class BatchConverter:
    """Converts batches of driver rows of one table to record batches of a fixed schema.

    Args:
        schema: Target schema of the record batches (one field per selected column, in order).
        wire_types: For each field, the Arrow type that accepts the driver's Python values.

    Raises:
        ValueError: If ``wire_types`` does not have one entry per schema field.
    """

    def __init__(self, schema: pa.Schema, wire_types: Sequence[pa.DataType]) -> None:
        if len(wire_types) != len(schema):
            raise ValueError(f"{len(wire_types)} wire types for {len(schema)} columns")
        self.schema = schema
        self._wire = pa.struct(
            [pa.field(field.name, wire) for field, wire in zip(schema, wire_types, strict=True)]
        )
        self._rows_converted = 0

    def convert(self, rows: Sequence[Sequence[object]]) -> pa.RecordBatch:
        """Convert one batch of rows.

        Args:
            rows: Row tuples from the driver, one value per schema field.

        Returns:
            A record batch with ``len(rows)`` rows in the target schema.

        Raises:
            ConversionError: If a value does not fit its column's type; the message names the
                column, its type, the rows of the batch and the value Arrow rejected.
        """
        first_row = self._rows_converted + 1
        try:
            children = pa.array(rows, type=self._wire).flatten()
            arrays = [
                cast_array(child, field.type)
                for child, field in zip(children, self.schema, strict=True)
            ]
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
            raise self._locate_failure(rows, first_row) from None
        self._rows_converted += len(rows)
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def _locate_failure(self, rows: Sequence[Sequence[object]], first_row: int) -> ConversionError:
        """Convert column by column to find which one failed, and describe it."""
        location = f"rows {first_row:,}-{first_row + len(rows) - 1:,}"
        for index, (field, wire) in enumerate(zip(self.schema, self._wire.fields, strict=True)):
            try:
                cast_array(pa.array([row[index] for row in rows], type=wire.type), field.type)
            except (
                pa.ArrowInvalid,
                pa.ArrowTypeError,
                pa.ArrowNotImplementedError,
                OverflowError,
            ) as exc:
                reason = str(exc).strip().splitlines()[0]
                return ConversionError(
                    f"column {field.name!r} ({field.type}), {location}: {reason}"
                )
        return ConversionError(f"{location}: the rows do not match the table's columns")
