"""Driver rows -> Arrow record batches: wire types cast to target types, failures located."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest
from ingest.conversion import BatchConverter, cast_array
from ingest.errors import ConversionError

UTC = dt.UTC

# (wire type, target type, driver values, expected Python values after conversion)
CASTS = [
    pytest.param(
        pa.float64(), pa.decimal128(15, 2), [1.1, 5, 0.07, None],
        [Decimal("1.10"), Decimal("5.00"), Decimal("0.07"), None], id="sqlite-real-to-decimal",
    ),
    pytest.param(
        pa.string(), pa.decimal128(15, 2), ["104949.50", "-0.01"],
        [Decimal("104949.50"), Decimal("-0.01")], id="text-to-decimal",
    ),
    pytest.param(
        pa.string(), pa.date32(), ["1996-03-13", None],
        [dt.date(1996, 3, 13), None], id="iso-text-to-date",
    ),
    pytest.param(
        pa.string(), pa.timestamp("us"), ["2024-05-01 12:30:00.000000", "2024-05-01 08:00:00"],
        [dt.datetime(2024, 5, 1, 12, 30), dt.datetime(2024, 5, 1, 8)], id="text-to-timestamp",
    ),
    pytest.param(
        pa.string(), pa.time64("us"), ["12:30:15.250000", "00:00:00"],
        [dt.time(12, 30, 15, 250000), dt.time(0)], id="text-to-time",
    ),
    pytest.param(
        pa.int64(), pa.bool_(), [1, 0, None], [True, False, None], id="sqlite-int-to-bool",
    ),
    pytest.param(
        pa.binary(), pa.string(), [b"abc", "Ünïcode ✓".encode(), None],
        ["abc", "Ünïcode ✓", None], id="sqlite-bytes-to-text",
    ),
    pytest.param(
        pa.binary(), pa.date32(), [b"1996-03-13"], [dt.date(1996, 3, 13)],
        id="sqlite-bytes-to-date",
    ),
    pytest.param(
        pa.binary(), pa.time64("us"), [b"23:59:59"], [dt.time(23, 59, 59)],
        id="sqlite-bytes-to-time",
    ),
    pytest.param(
        pa.binary(), pa.binary(), [b"\x00\xff"], [b"\x00\xff"], id="blob-stays-binary",
    ),
    pytest.param(
        pa.timestamp("us", tz="UTC"), pa.timestamp("us", tz="UTC"),
        [dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2)))],
        [dt.datetime(2024, 1, 1, 10, tzinfo=UTC)], id="aware-datetime-to-utc",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("wire", "target", "values", "expected"), CASTS)
def test_batch_converter_casts_wire_values(
    wire: pa.DataType, target: pa.DataType, values: list[object], expected: list[object]
) -> None:
    schema = pa.schema([pa.field("c", target)])
    converter = BatchConverter(schema, [wire])

    batch = converter.convert([(value,) for value in values])

    assert batch.schema == schema
    assert batch.column(0).to_pylist() == expected


def test_batch_converter_keeps_columns_in_order() -> None:
    schema = pa.schema([("id", pa.int64()), ("name", pa.string()), ("due", pa.date32())])
    converter = BatchConverter(schema, [pa.int64(), pa.string(), pa.string()])

    batch = converter.convert([(1, "a", "2024-01-31"), (2, None, None)])

    assert batch.to_pylist() == [
        {"id": 1, "name": "a", "due": dt.date(2024, 1, 31)},
        {"id": 2, "name": None, "due": None},
    ]


@pytest.mark.parametrize(
    ("wire", "target", "bad_value", "fragment"),
    [
        pytest.param(pa.string(), pa.date32(), "not-a-date", "'not-a-date'", id="bad-date"),
        pytest.param(pa.int64(), pa.int64(), "abc", "'abc'", id="text-in-integer-column"),
        pytest.param(pa.binary(), pa.string(), b"\xff\xfe", "Invalid UTF8", id="bad-utf8"),
        pytest.param(
            pa.float64(), pa.decimal128(38, 9), 1e40, "decimal128(38, 9)", id="decimal-overflow"
        ),
    ],
)
def test_conversion_error_names_column_rows_and_value(
    wire: pa.DataType, target: pa.DataType, bad_value: object, fragment: str
) -> None:
    schema = pa.schema([("id", pa.int64()), ("value", target)])
    converter = BatchConverter(schema, [pa.int64(), wire])
    good = [(i, None) for i in range(3)]
    converter.convert(good)

    with pytest.raises(ConversionError) as raised:
        converter.convert([(3, None), (4, bad_value)])

    message = str(raised.value)
    assert message.startswith(f"column 'value' ({target}), rows 4-5: ")
    assert fragment in message


def test_converter_needs_one_wire_type_per_column() -> None:
    with pytest.raises(ValueError, match="1 wire types for 2 columns"):
        BatchConverter(pa.schema([("a", pa.int64()), ("b", pa.int64())]), [pa.int64()])


def test_cast_array_returns_arrays_already_of_the_target_type_unchanged() -> None:
    array = pa.array([1, 2])
    assert cast_array(array, pa.int64()) is array
