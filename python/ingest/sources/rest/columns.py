"""Flat records to Arrow record batches: declared columns converted, the others inferred.

Values first become a *wire* array typed from the JSON values themselves (booleans, integers,
numbers, text; a field mixing kinds, or holding arrays or objects, becomes JSON text), which is
then cast to the declared type with Arrow compute. Undeclared fields keep their wire type:
that is the per-batch inference, unified across batches by :mod:`ingest.sources.rest.spill`.

Declared types and their Arrow types: ``string`` string, ``integer`` int64, ``number``
float64, ``decimal`` decimal128(38, 9), ``boolean`` bool, ``date`` date32, ``timestamp``
timestamp[us, UTC] (ISO 8601 text, a value without an offset is UTC; or ``unix_seconds``,
``unix_milliseconds``, a ``strptime`` pattern), ``json`` the value as JSON text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ingest.conversion import cast_array
from ingest.destinations.base import LOADED_AT_COLUMN
from ingest.errors import ConversionError, SchemaConflictError
from ingest.sources.rest.config import ColumnSpec
from ingest.type_mapping import UNBOUNDED_DECIMAL

TIMESTAMP = pa.timestamp("us", "UTC")
_ARROW_TYPES: Mapping[str, pa.DataType] = {
    "string": pa.string(),
    "json": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "decimal": UNBOUNDED_DECIMAL,
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": TIMESTAMP,
}
_UNIX_UNITS = {"unix_seconds": 1_000_000, "unix_milliseconds": 1_000}
# ISO 8601 text that ends with a UTC offset (Z, +hh:mm, +hhmm, +hh).
_HAS_OFFSET = r"(Z|z|[+-]\d\d(:?\d\d)?)$"
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_ARROW_FAILURES = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError)


def arrow_type(spec: ColumnSpec) -> pa.DataType:
    """The Arrow type of a declared column."""
    return _ARROW_TYPES[spec.type]


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def json_text(value: Any) -> str:
    """A value as JSON text (compact, UTF-8 kept); text stays text."""
    return value if isinstance(value, str) else _dump(value)


def to_text(array: pa.Array) -> pa.Array:
    """An array as text: strings unchanged, other values as their JSON text, nulls kept."""
    if pa.types.is_string(array.type):
        return array
    return pa.array([None if v is None else json_text(v) for v in array.to_pylist()], pa.string())


def _fit_int64(values: Sequence[Any]) -> bool:
    return all(_INT64_MIN <= v <= _INT64_MAX for v in values if isinstance(v, int))


def wire_array(values: Sequence[Any]) -> pa.Array:
    """An Arrow array typed by the JSON values themselves.

    Args:
        values: One field's values across a batch of records (None for absent or null).

    Returns:
        null (all values null), bool, int64, float64 (integers mixed with numbers) or string:
        text as is and, when kinds mix, integers exceed int64, or values are arrays or objects,
        JSON text.
    """
    kinds = {type(value) for value in values if value is not None}
    if not kinds:
        return pa.nulls(len(values))
    if kinds == {bool}:
        return pa.array(values, pa.bool_())
    if kinds <= {int, float} and _fit_int64(values):
        return pa.array(values, pa.int64() if kinds == {int} else pa.float64())
    if kinds == {str}:
        return pa.array(values, pa.string())
    return pa.array([None if v is None else json_text(v) for v in values], pa.string())


def _timestamp(wire: pa.Array, fmt: str | None) -> pa.Array:
    """Cast wire values to timestamp[us, UTC] according to the column's format."""
    if fmt in _UNIX_UNITS:
        numbers = wire if pa.types.is_integer(wire.type) else cast_array(wire, pa.float64())
        micros = pc.multiply_checked(numbers, _UNIX_UNITS[fmt])
        if not pa.types.is_integer(micros.type):
            micros = pc.cast(pc.round(micros), pa.int64())
        return pc.cast(micros, pa.int64()).cast(TIMESTAMP)
    text = wire if pa.types.is_string(wire.type) else to_text(wire)
    if fmt not in (None, "iso8601"):
        parsed = pc.strptime(text, format=fmt, unit="us", error_is_null=False)
        return parsed.cast(TIMESTAMP)  # naive values are taken as UTC
    has_offset = pc.match_substring_regex(text, _HAS_OFFSET)
    with_offset = pc.if_else(has_offset, text, pc.binary_join_element_wise(text, "+00:00", ""))
    return pc.cast(with_offset, TIMESTAMP)


def declared_array(spec: ColumnSpec, values: Sequence[Any]) -> pa.Array:
    """Convert one declared column's values.

    Raises:
        pyarrow.ArrowInvalid: (and the other Arrow errors) if a value does not convert.
    """
    if spec.type == "json":
        return pa.array([None if v is None else _dump(v) for v in values], pa.string())
    wire = wire_array(values)
    if spec.type == "string":
        return to_text(wire)
    if spec.type == "timestamp":
        return _timestamp(wire, spec.format)
    if spec.type == "date" and spec.format is not None:
        return pc.strptime(to_text(wire), format=spec.format, unit="s").cast(pa.date32())
    return cast_array(wire, arrow_type(spec))


class RecordConverter:
    """Converts batches of flat records of one endpoint into record batches.

    Args:
        endpoint: Endpoint name, for messages.
        columns: Declared columns, in order.
        infer: Also load undeclared fields, typed from the data; False loads only declared ones.
    """

    def __init__(self, endpoint: str, columns: Mapping[str, ColumnSpec], infer: bool) -> None:
        self.endpoint = endpoint
        self.columns = dict(columns)
        self.infer = infer
        self.declared_schema = pa.schema([pa.field(n, arrow_type(s)) for n, s in self.columns.items()])
        self._records_converted = 0

    def convert(self, records: Sequence[Mapping[str, Any]]) -> pa.RecordBatch:
        """Convert one batch of flat records.

        Args:
            records: Flat records (see :func:`ingest.sources.rest.records.flatten`).

        Returns:
            A batch with the declared columns first, then (when inferring) the other fields in
            the order they first appear in this batch.

        Raises:
            ConversionError: If a declared column's value does not convert; the message names
                the endpoint, column, type, record range and the value Arrow rejected.
            SchemaConflictError: If the records have a field named ``_loaded_at``.
        """
        first = self._records_converted + 1
        names = list(self.columns)
        if self.infer:
            seen = dict.fromkeys(name for record in records for name in record)
            names += [name for name in seen if name not in self.columns]
        if LOADED_AT_COLUMN in names and LOADED_AT_COLUMN not in self.columns:
            raise SchemaConflictError(
                f"endpoint {self.endpoint!r}: the records have a field {LOADED_AT_COLUMN!r}, "
                f"which the worker adds itself"
            )
        arrays = []
        for name in names:
            values = [record.get(name) for record in records]
            spec = self.columns.get(name)
            if spec is None:
                arrays.append(wire_array(values))
                continue
            try:
                arrays.append(declared_array(spec, values))
            except _ARROW_FAILURES as exc:
                reason = str(exc).strip().splitlines()[0]
                raise ConversionError(
                    f"endpoint {self.endpoint!r}, column {name!r} ({spec.type}), records "
                    f"{first:,}-{first + len(records) - 1:,}: {reason}"
                ) from None
        self._records_converted += len(records)
        return pa.RecordBatch.from_arrays(arrays, names=names)
