"""The SOQL the worker sends: literals, lookback, the statement."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest
from ingest.errors import UsageError
from ingest.sources import CursorFilter
from ingest.sources.salesforce.schema import ObjectSchema, ReadAs, SalesforceField
from ingest.sources.salesforce.soql import literal, lowered, select_statement

STAMP = SalesforceField("SystemModstamp", "datetime", pa.timestamp("us", tz="UTC"), ReadAs.CAST)
DAY = SalesforceField("CloseDate", "date", pa.date32(), ReadAs.CAST)
NAME = SalesforceField("Name", "string", pa.string(), ReadAs.TEXT)
AMOUNT = SalesforceField("Amount", "currency", pa.decimal128(16, 2), ReadAs.CAST)
TIME = SalesforceField("Call__c", "time", pa.time64("us"), ReadAs.TIME)
ID = SalesforceField("Id", "id", pa.string(), ReadAs.TEXT)
OPPORTUNITY = ObjectSchema("Opportunity", (ID, NAME, AMOUNT, DAY, STAMP), soft_delete=False)
UTC = dt.UTC


@pytest.mark.parametrize(
    ("value", "field", "expected"),
    [
        (dt.datetime(2024, 5, 1, 12, 0, 59, 999000, tzinfo=UTC), STAMP, "2024-05-01T12:00:59Z"),
        (dt.datetime(2024, 5, 1, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))), STAMP, "2024-05-01T12:00:00Z"),
        (dt.date(2024, 5, 1), DAY, "2024-05-01"),
        (Decimal("12.50"), AMOUNT, "12.50"),
        (42, AMOUNT, "42"),
        (True, NAME, "true"),
        ('O\'Brien \\ "co"', NAME, "'O\\'Brien \\\\ \\\"co\\\"'"),
    ],
)
def test_literals(value: object, field: SalesforceField, expected: str) -> None:
    assert literal(value, field) == expected  # type: ignore[arg-type]


def test_time_fields_cannot_be_cursors() -> None:
    with pytest.raises(UsageError, match="Call__c is a time field"):
        literal(dt.time(13, 30), TIME)


@pytest.mark.parametrize(
    ("value", "field", "minutes", "expected"),
    [
        (dt.datetime(2024, 5, 1, 12, 0, tzinfo=UTC), STAMP, 5, dt.datetime(2024, 5, 1, 11, 55, tzinfo=UTC)),
        (dt.datetime(2024, 5, 1, 12, 0, tzinfo=UTC), STAMP, 0, dt.datetime(2024, 5, 1, 12, 0, tzinfo=UTC)),
        (dt.date(2024, 5, 1), DAY, 5, dt.date(2024, 4, 30)),
        (dt.date(2024, 5, 1), DAY, 2 * 1440 + 1, dt.date(2024, 4, 28)),
        ("Acme", NAME, 0, "Acme"),
    ],
)
def test_lookback_lowers_date_and_datetime_bounds(
    value: object, field: SalesforceField, minutes: int, expected: object
) -> None:
    assert lowered(value, field, dt.timedelta(minutes=minutes)) == expected  # type: ignore[arg-type]


def test_lookback_on_a_text_cursor_is_refused() -> None:
    with pytest.raises(UsageError, match="--lookback-minutes needs a date or datetime cursor; Name is a string field"):
        lowered("Acme", NAME, dt.timedelta(minutes=5))


def test_select_statement() -> None:
    bound = CursorFilter("SystemModstamp", dt.datetime(2024, 5, 1, 12, 0, 30, 123456, tzinfo=UTC))

    assert select_statement(OPPORTUNITY, None, dt.timedelta(0)) == (
        "SELECT Id, Name, Amount, CloseDate, SystemModstamp FROM Opportunity"
    )
    assert select_statement(OPPORTUNITY, bound, dt.timedelta(minutes=10)) == (
        "SELECT Id, Name, Amount, CloseDate, SystemModstamp FROM Opportunity WHERE SystemModstamp >= 2024-05-01T11:50:30Z"
    )
    with pytest.raises(UsageError, match="cursor field 'LastModifiedDate' is not among the fields selected"):
        select_statement(OPPORTUNITY, CursorFilter("LastModifiedDate", bound.lower_bound), dt.timedelta(0))
