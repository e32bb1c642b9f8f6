"""From sObject describes to selected fields and Arrow types."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from ingest.errors import ColumnNotFoundError
from ingest.sources.salesforce.schema import ReadAs, field_type, object_schema


@pytest.mark.parametrize(
    ("describe", "expected"),
    [
        ({"type": "id"}, (pa.string(), ReadAs.TEXT)),
        ({"type": "reference"}, (pa.string(), ReadAs.TEXT)),
        ({"type": "picklist"}, (pa.string(), ReadAs.TEXT)),
        ({"type": "multipicklist"}, (pa.string(), ReadAs.TEXT)),
        ({"type": "textarea"}, (pa.string(), ReadAs.TEXT)),
        ({"type": "encryptedstring"}, (pa.string(), ReadAs.TEXT)),
        ({"type": "boolean"}, (pa.bool_(), ReadAs.BOOLEAN)),
        ({"type": "int", "digits": 9}, (pa.int64(), ReadAs.CAST)),
        ({"type": "long"}, (pa.int64(), ReadAs.CAST)),
        ({"type": "double", "precision": 18, "scale": 2}, (pa.float64(), ReadAs.CAST)),
        ({"type": "currency", "precision": 18, "scale": 2}, (pa.decimal128(18, 2), ReadAs.CAST)),
        ({"type": "percent", "precision": 3, "scale": 0}, (pa.decimal128(3, 0), ReadAs.CAST)),
        ({"type": "currency", "precision": 0, "scale": 0}, (pa.float64(), ReadAs.CAST)),
        ({"type": "currency", "precision": 40, "scale": 2}, (pa.float64(), ReadAs.CAST)),
        ({"type": "date"}, (pa.date32(), ReadAs.CAST)),
        ({"type": "datetime"}, (pa.timestamp("us", tz="UTC"), ReadAs.CAST)),
        ({"type": "time"}, (pa.time64("us"), ReadAs.TIME)),
        ({"type": "address"}, None),
        ({"type": "location"}, None),
        ({"type": "base64"}, None),
        ({"type": "somethingNew", "name": "X__c"}, (pa.string(), ReadAs.TEXT)),
    ],
    ids=lambda value: value.get("type") if isinstance(value, dict) else None,
)
def test_field_types(describe: dict[str, Any], expected: tuple[pa.DataType, ReadAs] | None) -> None:
    assert field_type(describe) == expected


ACCOUNT = {
    "name": "Account",
    "fields": [
        {"name": "Name", "type": "string"},
        {"name": "Id", "type": "id"},
        {"name": "BillingStreet", "type": "textarea", "compoundFieldName": "BillingAddress"},
        {"name": "BillingCity", "type": "string", "compoundFieldName": "BillingAddress"},
        {"name": "BillingAddress", "type": "address"},
        {"name": "IsDeleted", "type": "boolean"},
        {"name": "Logo", "type": "base64"},
        {"name": "AnnualRevenue", "type": "currency", "precision": 18, "scale": 0},
        {"name": "SystemModstamp", "type": "datetime"},
    ],
}


def names(requested: list[str] | None, include_deleted: bool = True) -> list[str]:
    return [f.name for f in object_schema(ACCOUNT, requested, include_deleted).fields]


def test_default_selection_skips_compound_and_base64_fields_and_puts_the_key_first() -> None:
    schema = object_schema(ACCOUNT, None, include_deleted=True)

    assert [f.name for f in schema.fields] == [
        "Id", "IsDeleted", "Name", "BillingStreet", "BillingCity", "AnnualRevenue", "SystemModstamp",
    ]  # fmt: skip
    assert schema.soft_delete
    assert schema.arrow_schema.field("AnnualRevenue").type == pa.decimal128(18, 0)


@pytest.mark.parametrize(
    ("requested", "include_deleted", "expected"),
    [
        (["name"], True, ["Id", "IsDeleted", "Name"]),
        (["name"], False, ["Id", "Name"]),
        (["BillingAddress", "Name"], False, ["Id", "BillingStreet", "BillingCity", "Name"]),
        (["SYSTEMMODSTAMP", "Id", "IsDeleted"], False, ["Id", "SystemModstamp", "IsDeleted"]),
    ],
)
def test_requested_fields_case_insensitive_with_compound_expansion(
    requested: list[str], include_deleted: bool, expected: list[str]
) -> None:
    assert names(requested, include_deleted) == expected


@pytest.mark.parametrize(
    ("requested", "message"),
    [
        (["Nmae"], "INVALID_FIELD: No such column 'Nmae' on entity 'Account' (did you mean Name?)"),
        (["Logo"], "INVALID_FIELD: Logo is a base64 field, which the worker does not load"),
        (
            ["Foo", "Bar"],
            "INVALID_FIELD: No such column 'Foo' on entity 'Account'; No such column 'Bar' on entity 'Account'",
        ),
    ],
)
def test_unknown_or_unloadable_fields_are_named_in_one_error(requested: list[str], message: str) -> None:
    with pytest.raises(ColumnNotFoundError) as raised:
        names(requested)
    assert str(raised.value) == message


def test_an_object_without_deleted_flag_cannot_soft_delete() -> None:
    describe = {"name": "UserRole", "fields": [{"name": "Id", "type": "id"}, {"name": "Name", "type": "string"}]}

    schema = object_schema(describe, None, include_deleted=True)

    assert not schema.soft_delete
    assert [f.name for f in schema.fields] == ["Id", "Name"]
