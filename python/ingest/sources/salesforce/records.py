"""Salesforce records to Arrow record batches: REST JSON pages and Bulk API 2.0 CSV pages alike.

REST records hold every value as text (JSON numbers are parsed as their text, never through a
float) and one vectorised Arrow cast per column gives the field's type. Bulk pages are parsed by
Arrow's CSV reader straight into those types (the same Arrow value parsers, three times faster
than reading text and casting); only ``time`` fields are read as text and converted like REST
values. REST and Bulk loads therefore produce identical batches. Value formats
(REST API Developer Guide, "Valid Date and DateTime Formats"; Bulk API 2.0, query results):
dates ``2024-05-01``, date-times ``2024-05-01T12:00:00.000+0000`` (REST) or
``2024-05-01T12:00:00.000Z`` (CSV), times ``13:30:00.000Z``, booleans ``true``/``false``, null as
JSON null or an empty CSV field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ingest.conversion import cast_array
from ingest.errors import ConversionError, SourceError
from ingest.sources.salesforce.schema import ObjectSchema, ReadAs, SalesforceField

_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError)
_CSV_BLOCK_BYTES = 16 << 20
_CSV_CONVERSION = re.compile(r"CSV column #(\d+).*CSV conversion error to [^:]+: (.*)")


def typed_column(text: pa.Array, field: SalesforceField) -> pa.Array:
    """Convert a column of text (or booleans) to the field's Arrow type.

    Args:
        text: The field's values as strings; booleans may already be ``bool``.
        field: The field.

    Returns:
        The values as ``field.arrow_type``.

    Raises:
        pyarrow.ArrowInvalid: If a value is not valid for the type.
    """
    if field.read_as is ReadAs.TEXT:
        return text
    if field.read_as is ReadAs.TIME:
        text = pc.replace_substring_regex(text, pattern="Z$", replacement="")
    return cast_array(text, field.arrow_type)


def _converted(
    schema: ObjectSchema, first_row: int, rows: int, column: Callable[[SalesforceField], pa.Array]
) -> pa.RecordBatch:
    """Build a batch field by field; a failure names the object, field and rows."""
    arrays = []
    for field in schema.fields:
        try:
            arrays.append(typed_column(column(field), field))
        except _ARROW_ERRORS as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            location = f"rows {first_row:,}-{first_row + rows - 1:,}"
            raise ConversionError(
                f"{schema.name}.{field.name} ({field.salesforce_type} -> {field.arrow_type}), {location}: {reason}"
            ) from None
    return pa.RecordBatch.from_arrays(arrays, schema=schema.arrow_schema)


def batch_from_records(records: Sequence[Mapping[str, Any]], schema: ObjectSchema, first_row: int) -> pa.RecordBatch:
    """Convert REST query records (JSON parsed with numbers as text) to one record batch.

    Args:
        records: The ``records`` of query responses; each maps field names to values.
        schema: The selected fields.
        first_row: 1-based position of the first record in the whole read, for messages.

    Returns:
        A batch with ``schema.arrow_schema``.

    Raises:
        ConversionError: If a value does not fit its field's type.
    """

    def column(field: SalesforceField) -> pa.Array:
        values = [record.get(field.name) for record in records]
        wire = pa.bool_() if field.read_as is ReadAs.BOOLEAN else pa.string()
        return pa.array(values, type=wire)

    return _converted(schema, first_row, len(records), column)


def batch_from_csv(page: bytes, schema: ObjectSchema, first_row: int) -> pa.RecordBatch | None:
    """Convert one Bulk API 2.0 result page (CSV with a header row) to one record batch.

    Args:
        page: The page's body.
        schema: The selected fields; the header must name each of them.
        first_row: 1-based position of the page's first record in the whole read.

    Returns:
        A batch with ``schema.arrow_schema``, or None for a page without records.

    Raises:
        SourceError: If the page is not CSV with the expected header.
        ConversionError: If a value does not fit its field's type.
    """
    if not page.strip():
        return None
    names = [field.name for field in schema.fields]
    wire = {f.name: pa.string() if f.read_as in (ReadAs.TEXT, ReadAs.TIME) else f.arrow_type for f in schema.fields}
    try:
        table = pacsv.read_csv(
            pa.py_buffer(page),
            read_options=pacsv.ReadOptions(block_size=_CSV_BLOCK_BYTES),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=wire,
                include_columns=names,
                null_values=[""],
                true_values=["true"],
                false_values=["false"],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        ).combine_chunks()
    except (pa.ArrowInvalid, KeyError) as exc:
        raise _csv_failure(str(exc), page, schema, first_row) from None
    if table.num_rows == 0:
        return None

    def column(field: SalesforceField) -> pa.Array:
        return table.column(field.name).chunk(0)

    return _converted(schema, first_row, table.num_rows, column)


def _csv_failure(message: str, page: bytes, schema: ObjectSchema, first_row: int) -> SourceError:
    """Describe a CSV reader failure: a value of a named field, or a page that is not the expected CSV."""
    reason = message.strip().splitlines()[0] if message.strip() else "unreadable CSV"
    conversion = _CSV_CONVERSION.search(reason)
    if conversion is None:
        return SourceError(f"Salesforce Bulk API result page for {schema.name} is not the expected CSV: {reason}")
    header = page.split(b"\n", 1)[0].decode("utf-8", "replace").split(",")
    index = int(conversion[1])
    name = header[index].strip().strip('"') if index < len(header) else f"column {index + 1}"
    field = next((f for f in schema.fields if f.name == name), None)
    kind = f" ({field.salesforce_type} -> {field.arrow_type})" if field else ""
    return ConversionError(f"{schema.name}.{name}{kind}, Bulk API result page from row {first_row:,}: {conversion[2]}")
