"""REST JSON records and Bulk API CSV pages become the same typed Arrow batches."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from ingest.errors import ConversionError, SourceError
from ingest.sources.salesforce.records import batch_from_csv, batch_from_records
from ingest.sources.salesforce.schema import object_schema

SCHEMA = object_schema(
    {
        "name": "Opportunity",
        "fields": [
            {"name": "Id", "type": "id"},
            {"name": "IsDeleted", "type": "boolean"},
            {"name": "Name", "type": "string"},
            {"name": "Amount", "type": "currency", "precision": 18, "scale": 2},
            {"name": "Quantity", "type": "double"},
            {"name": "Employees", "type": "int"},
            {"name": "CloseDate", "type": "date"},
            {"name": "SystemModstamp", "type": "datetime"},
            {"name": "CallTime", "type": "time"},
        ],
    },
    None,
    include_deleted=True,
)

# Two records as the REST API sends them (numbers as JSON numbers, JSON null) ...
REST_PAGE = """{"totalSize": 2, "done": true, "records": [
 {"attributes": {"type": "Opportunity"}, "Id": "006A", "IsDeleted": false, "Name": "Big, \\"quoted\\"\\nsecond line",
  "Amount": 12345678901234.56, "Quantity": 1.5e3, "Employees": 42, "CloseDate": "2024-05-01",
  "SystemModstamp": "2024-05-01T12:34:56.789+0000", "CallTime": "13:30:00.250Z"},
 {"attributes": {"type": "Opportunity"}, "Id": "006B", "IsDeleted": true, "Name": "Ünïcode ✓", "Amount": null,
  "Quantity": null, "Employees": null, "CloseDate": null, "SystemModstamp": "2024-05-02T00:00:00.000+0000",
  "CallTime": null}]}"""
# ... and as a Bulk API 2.0 result page (every value quoted, null as an empty field).
CSV_PAGE = (
    '"Id","IsDeleted","Name","Amount","Quantity","Employees","CloseDate","SystemModstamp","CallTime"\n'
    '"006A","false","Big, ""quoted""\nsecond line","12345678901234.56","1500","42","2024-05-01",'
    '"2024-05-01T12:34:56.789Z","13:30:00.250Z"\n'
    '"006B","true","Ünïcode ✓",,,,,"2024-05-02T00:00:00.000Z",\n'
).encode()
EXPECTED = [
    {
        "Id": "006A", "IsDeleted": False, "Name": 'Big, "quoted"\nsecond line', "Amount": Decimal("12345678901234.56"),
        "Quantity": 1500.0, "Employees": 42, "CloseDate": dt.date(2024, 5, 1),
        "SystemModstamp": dt.datetime(2024, 5, 1, 12, 34, 56, 789000, tzinfo=dt.UTC), "CallTime": dt.time(13, 30, 0, 250000),
    },
    {
        "Id": "006B", "IsDeleted": True, "Name": "Ünïcode ✓", "Amount": None, "Quantity": None, "Employees": None,
        "CloseDate": None, "SystemModstamp": dt.datetime(2024, 5, 2, tzinfo=dt.UTC), "CallTime": None,
    },
]  # fmt: skip


def rest_records(text: str) -> list[dict[str, object]]:
    """Records parsed as the client parses them: numbers kept as their text."""
    return json.loads(text, parse_float=str, parse_int=str)["records"]


def test_rest_and_csv_pages_give_identical_typed_batches() -> None:
    from_rest = batch_from_records(rest_records(REST_PAGE), SCHEMA, first_row=1)
    from_csv = batch_from_csv(CSV_PAGE, SCHEMA, first_row=1)

    assert from_csv is not None
    assert from_rest.schema == from_csv.schema == SCHEMA.arrow_schema
    assert from_rest.equals(from_csv)
    assert from_rest.to_pylist() == EXPECTED


def test_currency_never_passes_through_a_float() -> None:
    page = '{"records": [{"Id": "006C", "IsDeleted": false, "Amount": 9999999999999999.99}]}'

    batch = batch_from_records(rest_records(page), SCHEMA, first_row=1)

    assert batch.column("Amount").to_pylist() == [Decimal("9999999999999999.99")]


@pytest.mark.parametrize("page", [b"", b"\n", b'"Id","IsDeleted"\n'], ids=["empty", "blank", "header-only"])
def test_a_page_without_records_gives_no_batch(page: bytes) -> None:
    schema = object_schema(
        {"name": "A", "fields": [{"name": "Id", "type": "id"}, {"name": "IsDeleted", "type": "boolean"}]}, None, True
    )
    assert batch_from_csv(page, schema, first_row=1) is None


def test_a_value_that_does_not_fit_names_object_field_and_rows() -> None:
    records = [{"Id": f"006{n}", "IsDeleted": False, "Employees": "7"} for n in range(4)]
    records[2]["Employees"] = "many"

    with pytest.raises(ConversionError) as raised:
        batch_from_records(records, SCHEMA, first_row=101)

    assert str(raised.value).startswith("Opportunity.Employees (int -> int64), rows 101-104: ")


def test_a_csv_value_that_does_not_fit_names_object_and_field() -> None:
    page = CSV_PAGE.replace(b'"42"', b'"forty-two"')

    with pytest.raises(ConversionError) as raised:
        batch_from_csv(page, SCHEMA, first_row=50_001)

    assert str(raised.value) == (
        "Opportunity.Employees (int -> int64), Bulk API result page from row 50,001: invalid value 'forty-two'"
    )


def test_a_page_missing_a_selected_column_is_a_source_error() -> None:
    with pytest.raises(SourceError, match="Bulk API result page for Opportunity is not the expected CSV"):
        batch_from_csv(b'"Id","Name"\n"006A","x"\n', SCHEMA, first_row=1)
