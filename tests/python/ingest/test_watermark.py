"""Watermarks: typed values round-trip through their stored text and render as JSON."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pyarrow as pa
import pytest
from ingest.watermark import (
    batch_maximum,
    cursor_value_json,
    format_cursor_value,
    later,
    parse_cursor_value,
)

# (Arrow type of the cursor column, text, parsed value, JSON rendering)
ROUND_TRIPS = [
    pytest.param(pa.int64(), "1500", 1500, 1500, id="int"),
    pytest.param(pa.float64(), "2.5", 2.5, 2.5, id="float"),
    pytest.param(pa.decimal128(15, 2), "12.50", Decimal("12.50"), "12.50", id="decimal"),
    pytest.param(pa.string(), "b-17", "b-17", "b-17", id="text"),
    pytest.param(pa.date32(), "1998-08-02", dt.date(1998, 8, 2), "1998-08-02", id="date"),
    pytest.param(
        pa.timestamp("us"), "2024-05-01T12:30:00.000125",
        dt.datetime(2024, 5, 1, 12, 30, 0, 125), "2024-05-01T12:30:00.000125", id="timestamp",
    ),
    pytest.param(
        pa.timestamp("us", tz="UTC"), "2024-05-01T12:30:00+00:00",
        dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC), "2024-05-01T12:30:00+00:00",
        id="timestamp-utc",
    ),
    pytest.param(pa.time64("us"), "07:45:00", dt.time(7, 45), "07:45:00", id="time"),
]  # fmt: skip


@pytest.mark.parametrize(("arrow_type", "text", "value", "rendered"), ROUND_TRIPS)
def test_cursor_values_round_trip(
    arrow_type: pa.DataType, text: str, value: object, rendered: object
) -> None:
    parsed = parse_cursor_value(text, arrow_type)

    assert parsed == value
    assert parse_cursor_value(format_cursor_value(parsed), arrow_type) == value
    assert cursor_value_json(parsed) == rendered
    json.dumps(cursor_value_json(parsed))


@pytest.mark.parametrize(
    ("arrow_type", "text"),
    [(pa.int64(), "12a"), (pa.date32(), "1998-13-01"), (pa.decimal128(5, 2), "12345.67")],
)
def test_invalid_text_is_a_value_error(arrow_type: pa.DataType, text: str) -> None:
    with pytest.raises(ValueError, match=f"'{text}' is not a valid"):
        parse_cursor_value(text, arrow_type)


def test_batch_maximum_ignores_nulls() -> None:
    assert batch_maximum(pa.array([3, None, 7, 5])) == 7
    assert batch_maximum(pa.array([None, None], pa.date32())) is None


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [(None, None, None), (None, 3, 3), (3, None, 3), (3, 5, 5), (5, 3, 5)],
)
def test_later_takes_the_larger_value(
    first: int | None, second: int | None, expected: object
) -> None:
    assert later(first, second) == expected


def test_json_of_no_watermark_is_null() -> None:
    assert cursor_value_json(None) is None
