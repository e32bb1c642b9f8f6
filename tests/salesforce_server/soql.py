"""The slice of SOQL the test server understands: ``SELECT f1, f2 FROM Obj [WHERE f >= literal]``.

Anything else is ``MALFORMED_QUERY``, so a worker that starts sending other SOQL fails its tests
instead of silently reading something else. Literals follow the SOQL reference: date-times
``YYYY-MM-DDThh:mm:ssZ``, dates ``YYYY-MM-DD``, numbers, ``true``/``false``, quoted strings.
Errors carry Salesforce's wording (the statement, a caret line, then the explanation).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .catalog import ObjectSpec
from .store import RecordStore

_SELECT = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<object>\w+)"
    r"(?:\s+WHERE\s+(?P<field>\w+)\s*>=\s*(?P<literal>\S+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_CUSTOM_HINT = (
    " If you are attempting to use a custom {kind}, be sure to append the '__c' after the {what}. "
    "Please reference your WSDL or the describe call for the appropriate names."
)


class SoqlError(Exception):
    """A query Salesforce would reject; ``code`` is its errorCode."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Query:
    """A parsed query."""

    spec: ObjectSpec
    fields: tuple[str, ...]
    bound_field: str | None
    bound: Any


def _located(soql: str, detail: str) -> str:
    return f"\n{soql}\n^\nERROR at Row:1:Column:1\n{detail}"


def parse(soql: str, store: RecordStore, rejected: Collection[tuple[str, str]] = ()) -> Query:
    """Parse a query against the org's objects.

    Args:
        soql: The statement.
        store: The org (for object and field names).
        rejected: ``(object, field)`` pairs to refuse as if the field did not exist (a field the
            describe lists but the query cannot see, e.g. hidden by field-level security).

    Returns:
        The query with canonical field names.

    Raises:
        SoqlError: ``MALFORMED_QUERY``, ``INVALID_TYPE`` or ``INVALID_FIELD``.
    """
    match = _SELECT.match(soql)
    if match is None:
        raise SoqlError(
            "MALFORMED_QUERY",
            _located(soql, "unexpected token: the test server reads only SELECT ... FROM ... [WHERE f >= v]"),
        )
    spec = store.spec(match["object"])
    if spec is None:
        detail = f"sObject type '{match['object']}' is not supported." + _CUSTOM_HINT.format(
            kind="object", what="entity name"
        )
        raise SoqlError("INVALID_TYPE", _located(soql, detail))
    names = [name.strip() for name in match["fields"].split(",")]
    if match["field"]:
        names.append(match["field"])
    canonical = []
    for name in names:
        field = spec.field(name)
        hidden = (spec.name.lower(), name.lower()) in {(o.lower(), f.lower()) for o, f in rejected}
        if field is None or hidden:
            detail = f"No such column '{name}' on entity '{spec.name}'." + _CUSTOM_HINT.format(
                kind="field", what="custom field name"
            )
            raise SoqlError("INVALID_FIELD", _located(soql, detail))
        if field.sql is None:
            raise SoqlError(
                "INVALID_FIELD", _located(soql, f"compound field {field.name} is not supported by the test server")
            )
        canonical.append(field.name)
    bound_field = canonical.pop() if match["field"] else None
    bound = _literal(match["literal"], spec, bound_field, soql) if bound_field else None
    return Query(spec, tuple(canonical), bound_field, bound)


def _literal(text: str, spec: ObjectSpec, field_name: str, soql: str) -> Any:
    field = spec.field(field_name)
    assert field is not None
    try:
        if field.type == "datetime":
            return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        if field.type == "date":
            return dt.date.fromisoformat(text)
        if field.type in ("int", "double", "currency", "percent"):
            return Decimal(text)
        if field.type == "boolean":
            return {"true": True, "false": False}[text.lower()]
    except (ValueError, KeyError, ArithmeticError):
        raise SoqlError(
            "MALFORMED_QUERY",
            _located(soql, f"value of filter criterion for field '{field_name}' must be of type {field.type}"),
        ) from None
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    raise SoqlError("MALFORMED_QUERY", _located(soql, f"expected a quoted string for field '{field_name}'"))


def run(query: Query, store: RecordStore, include_deleted: bool) -> pa.Table:
    """The records a query returns (deleted ones only for queryAll), selected columns only."""
    table = store.table(query.spec.name)
    if not include_deleted:
        table = table.filter(pc.invert(table["IsDeleted"]))
    if query.bound_field is not None:
        column = table[query.bound_field]
        bound = (
            pa.scalar(query.bound).cast(column.type)
            if isinstance(query.bound, Decimal)
            else pa.scalar(query.bound, column.type)
        )
        table = table.filter(pc.fill_null(pc.greater_equal(column, bound), False))
    return table.select(list(query.fields))
