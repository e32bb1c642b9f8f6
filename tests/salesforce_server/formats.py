"""Records as Salesforce sends them: REST JSON records and Bulk API 2.0 CSV pages.

REST (REST API Developer Guide, "Valid Date and DateTime Formats"): date-times
``2024-05-01T12:00:00.000+0000``, dates ``2024-05-01``, times ``13:30:00.000Z``, numbers as JSON
numbers (currency included), and an ``attributes`` object per record. Bulk API 2.0 CSV: a quoted
header, every value quoted, null as an empty field, date-times ``2024-05-01T12:00:00.000Z``,
booleans ``true``/``false``.
"""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv


def _json_values(column: pa.ChunkedArray) -> list[Any]:
    """A column as JSON-ready Python values, converted column-wise (fast enough for 1M rows)."""
    kind = column.type
    if pa.types.is_timestamp(kind):
        return _suffixed(_naive_text(column), "+0000").to_pylist()
    if pa.types.is_time(kind):
        return _suffixed(pc.cast(pc.cast(column, pa.time32("ms")), pa.string()), "Z").to_pylist()
    if pa.types.is_date(kind):
        return pc.cast(column, pa.string()).to_pylist()
    if pa.types.is_decimal(kind):  # JSON numbers, as Salesforce sends currency
        if kind.scale == 0:
            return pc.cast(column, pa.int64()).to_pylist()
        # Python's float(Decimal) rounds correctly (Arrow's cast may be one ulp off), so the JSON
        # number reads back as exactly the stored decimal.
        return [None if value is None else float(value) for value in column.to_pylist()]
    return column.to_pylist()


def json_records(table: pa.Table, object_name: str, api_version: str) -> list[dict[str, Any]]:
    """The REST query ``records`` of a slice of results."""
    names = table.column_names
    columns = [_json_values(table[name]) for name in names]
    url = f"/services/data/v{api_version}/sobjects/{object_name}/"
    records = []
    for values in zip(*columns, strict=True):
        record: dict[str, Any] = {"attributes": {"type": object_name, "url": url + str(values[0])}}
        record.update(zip(names, values, strict=True))
        records.append(record)
    return records


def _naive_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """UTC timestamps as ``2024-05-01T12:00:00.000`` (through a naive timestamp: 3x faster than strftime)."""
    return pc.replace_substring(pc.cast(pc.cast(column, pa.timestamp("ms")), pa.string()), " ", "T")


def _suffixed(text: pa.ChunkedArray, suffix: str) -> pa.ChunkedArray:
    return pc.binary_join_element_wise(text, pa.scalar(suffix), "")


def _csv_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    kind = column.type
    if pa.types.is_timestamp(kind):
        return _suffixed(_naive_text(column), "Z")
    if pa.types.is_time(kind):
        return _suffixed(pc.cast(pc.cast(column, pa.time32("ms")), pa.string()), "Z")
    return pc.cast(column, pa.string())


def csv_page(table: pa.Table) -> bytes:
    """A Bulk API 2.0 result page for a slice of results."""
    text = pa.table({name: _csv_text(table[name]) for name in table.column_names})
    buffer = io.BytesIO()
    pacsv.write_csv(text, buffer, pacsv.WriteOptions(quoting_style="all_valid"))
    return buffer.getvalue()
