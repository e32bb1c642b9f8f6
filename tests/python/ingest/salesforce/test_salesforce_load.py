"""Full loads of three sObjects from the test org: exact rows, exact types, REST and Bulk identical."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import SalesforceOrg

OBJECTS = {"Account": 1000, "Contact": 2500, "Opportunity": 1500}

# The warehouse type of each Salesforce field type (decimals take the field's precision/scale).
DUCKDB_TYPES = {
    "id": "VARCHAR", "reference": "VARCHAR", "string": "VARCHAR", "picklist": "VARCHAR", "textarea": "VARCHAR",
    "phone": "VARCHAR", "url": "VARCHAR", "email": "VARCHAR", "boolean": "BOOLEAN", "int": "BIGINT",
    "double": "DOUBLE", "date": "DATE", "datetime": "TIMESTAMP WITH TIME ZONE", "time": "TIME",
}  # fmt: skip


def expected_types(spec: object) -> dict[str, str]:
    """Column -> DuckDB type the warehouse table of a test sObject must have."""
    types = {}
    for field in spec.stored:  # type: ignore[attr-defined]
        if field.type in ("currency", "percent"):
            types[field.name] = f"DECIMAL({field.precision},{field.scale})"
        else:
            types[field.name] = DUCKDB_TYPES[field.type]
    # a full merge also adds _deleted_at: keys that vanish from Salesforce (purged) are marked there
    return {**types, "_loaded_at": "TIMESTAMP WITH TIME ZONE", "_deleted_at": "TIMESTAMP WITH TIME ZONE"}


def test_full_load_of_three_objects_lands_every_record_with_its_type_via_rest_and_bulk_alike(
    org: SalesforceOrg,
) -> None:
    for name, count in OBJECTS.items():
        rest = org.ingest("--object", name, "--api", "rest")
        bulk = org.ingest("--object", name, "--api", "bulk", "--destination-table", f"{name}_bulk")

        for run in (rest, bulk):
            assert run.returncode == 0, run.stderr
            assert run.summary["rows_read"] == run.summary["rows_written"] == count
        assert org.types(f"raw.{name}") == org.types(f"raw.{name}_bulk") == expected_types(org.store.spec(name))
        loaded = org.table(f"raw.{name}", exclude="_loaded_at, _deleted_at")
        assert loaded == org.store.rows(name)
        assert org.table(f"raw.{name}_bulk", exclude="_loaded_at, _deleted_at") == loaded
    # Deleted records are loaded too (queryAll), marked by IsDeleted.
    assert org.query("SELECT count(*) FROM raw.Account WHERE IsDeleted") == [(1000 // 41,)]
    # Compound fields are represented by their components only.
    columns = org.types("raw.Account")
    assert "BillingAddress" not in columns and {"BillingStreet", "BillingLatitude"} <= set(columns)


def test_fields_option_selects_fields_and_expands_compound_ones(org: SalesforceOrg) -> None:
    run = org.ingest(
        "--object", "Contact", "--fields", "lastname,MailingAddress,SystemModstamp", "--no-include-deleted"
    )

    assert run.returncode == 0, run.stderr
    assert list(org.types("raw.Contact")) == [
        "Id", "LastName", "MailingStreet", "MailingCity", "MailingState", "MailingPostalCode", "MailingCountry",
        "MailingLatitude", "MailingLongitude", "MailingGeocodeAccuracy", "SystemModstamp", "_loaded_at", "_deleted_at",
    ]  # fmt: skip
    live = org.store.ids("Contact", include_deleted=False)
    assert run.summary["rows_written"] == len(live) < OBJECTS["Contact"]
    assert [row["Id"] for row in org.table("raw.Contact")] == live
