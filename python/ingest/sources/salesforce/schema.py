"""From an sObject describe to the fields the worker selects and their Arrow types.

Contract: ``GET /services/data/vXX.X/sobjects/<object>/describe`` returns the object's ``fields``,
each with ``name``, ``type`` (the field types of the SOAP API Developer Guide, "Field Types"),
``precision``/``scale`` for numbers, and ``compoundFieldName`` on the components of a compound
field (REST API Developer Guide, "sObject Describe"; SOAP API Developer Guide, "Compound Fields").

Choices:

- Compound fields (``address``, ``location``) are skipped and their components (``BillingStreet``,
  ``BillingCity``, ..., ``BillingLatitude``) loaded as ordinary columns: Bulk API 2.0 cannot
  query compound fields, and the components carry the same data. Naming a compound field in
  ``--fields`` selects its components.
- ``base64`` fields are skipped: a query returns a URL to the blob, not its content, and Bulk
  API 2.0 refuses them.
- ``currency`` and ``percent`` become ``decimal128(precision, scale)``; when the describe gives
  no usable precision (0, or more than 38 digits) they become ``float64``. ``double`` (including
  custom Number fields) is ``float64``; ``int``/``long`` are ``int64``; ``date`` is ``date32``,
  ``datetime`` ``timestamp[us, UTC]``, ``time`` ``time64[us]``; every text-like type (id,
  reference, string, picklist, textarea, email, url, ...) and unknown types are ``string``.
"""

from __future__ import annotations

import difflib
import enum
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ingest.errors import ColumnNotFoundError

logger = logging.getLogger(__name__)

MAX_DECIMAL_PRECISION = 38
PRIMARY_KEY = "Id"
DELETED_FIELD = "IsDeleted"

TEXT_TYPES = frozenset(
    {
        "id", "reference", "string", "picklist", "multipicklist", "combobox", "textarea", "email",
        "phone", "url", "encryptedstring", "anyType", "datacategorygroupreference", "complexvalue", "json",
    }
)  # fmt: skip
COMPOUND_TYPES = frozenset({"address", "location"})
SKIPPED_TYPES = frozenset({"base64"})


class ReadAs(enum.Enum):
    """How a field's values, received as text (or JSON booleans), become its Arrow type."""

    TEXT = "text"  # kept as the string it is
    BOOLEAN = "boolean"  # JSON true/false, or the CSV text "true"/"false"
    CAST = "cast"  # text parsed by an Arrow cast (numbers, dates, timestamps)
    TIME = "time"  # "13:30:00.000Z": the trailing Z (UTC) removed, then parsed


@dataclass(frozen=True)
class SalesforceField:
    """A field the worker reads.

    Attributes:
        name: API name as Salesforce spells it, e.g. ``AnnualRevenue``.
        salesforce_type: Field type from the describe, e.g. ``currency``.
        arrow_type: Type of the column in the staged batches.
        read_as: How its text becomes ``arrow_type``.
    """

    name: str
    salesforce_type: str
    arrow_type: pa.DataType
    read_as: ReadAs


@dataclass(frozen=True)
class ObjectSchema:
    """The fields of one sObject the worker selects, in order (``Id`` first).

    Attributes:
        name: API name of the object, e.g. ``Account``.
        fields: Selected fields.
        soft_delete: True when ``IsDeleted`` is selected and deleted records are read (queryAll),
            so a deletion arrives as a row with ``IsDeleted = true``.
    """

    name: str
    fields: tuple[SalesforceField, ...]
    soft_delete: bool

    @property
    def arrow_schema(self) -> pa.Schema:
        """Arrow schema of the batches (every column nullable)."""
        return pa.schema([pa.field(f.name, f.arrow_type) for f in self.fields])

    def field(self, name: str) -> SalesforceField:
        """The selected field called ``name``.

        Raises:
            KeyError: If no selected field has that name.
        """
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        raise KeyError(name)


def _decimal_or_float(describe: Mapping[str, Any]) -> pa.DataType:
    precision = int(describe.get("precision") or 0)
    scale = int(describe.get("scale") or 0)
    if 0 < precision <= MAX_DECIMAL_PRECISION and 0 <= scale <= precision:
        return pa.decimal128(precision, scale)
    return pa.float64()


def field_type(describe: Mapping[str, Any]) -> tuple[pa.DataType, ReadAs] | None:
    """The Arrow type and reading rule of one described field.

    Args:
        describe: One entry of the describe's ``fields`` list.

    Returns:
        ``(arrow type, read rule)``, or None for fields the worker does not load (compound and
        base64 fields).
    """
    kind = str(describe.get("type", ""))
    if kind in COMPOUND_TYPES or kind in SKIPPED_TYPES:
        return None
    if kind in TEXT_TYPES:
        return pa.string(), ReadAs.TEXT
    simple: dict[str, tuple[pa.DataType, ReadAs]] = {
        "boolean": (pa.bool_(), ReadAs.BOOLEAN),
        "int": (pa.int64(), ReadAs.CAST),
        "long": (pa.int64(), ReadAs.CAST),
        "double": (pa.float64(), ReadAs.CAST),
        "date": (pa.date32(), ReadAs.CAST),
        "datetime": (pa.timestamp("us", tz="UTC"), ReadAs.CAST),
        "time": (pa.time64("us"), ReadAs.TIME),
    }
    if kind in simple:
        return simple[kind]
    if kind in ("currency", "percent"):
        return _decimal_or_float(describe), ReadAs.CAST
    logger.warning("field %s has type %r, which has no Arrow mapping; loading it as text", describe.get("name"), kind)
    return pa.string(), ReadAs.TEXT


def object_schema(describe: Mapping[str, Any], requested: Sequence[str] | None, include_deleted: bool) -> ObjectSchema:
    """Choose and type the fields to read from an sObject describe.

    Args:
        describe: The describe response (``name`` and ``fields``).
        requested: Field names from ``--fields`` (case-insensitive; compound names select their
            components); None for every loadable field.
        include_deleted: Whether deleted records are read; then ``IsDeleted`` is always selected
            (when the object has it).

    Returns:
        The schema: ``Id`` first, then the fields in describe order (or in ``requested`` order).

    Raises:
        ColumnNotFoundError: If requested fields do not exist or cannot be loaded; the message
            starts with ``INVALID_FIELD`` and names each field and the object.
    """
    object_name = str(describe["name"])
    described = list(describe.get("fields", []))
    loadable: dict[str, SalesforceField] = {}
    for entry in described:
        typed = field_type(entry)
        if typed is not None:
            loadable[entry["name"].lower()] = SalesforceField(entry["name"], entry["type"], *typed)
    components: dict[str, list[str]] = {}
    for entry in described:
        if entry.get("compoundFieldName") and entry["name"].lower() in loadable:
            components.setdefault(entry["compoundFieldName"].lower(), []).append(entry["name"].lower())
    if requested is None:
        names = list(loadable)
    else:
        names = _resolve(object_name, requested, loadable, components, {e["name"].lower(): e for e in described})
    soft_delete = include_deleted and DELETED_FIELD.lower() in loadable
    always = [PRIMARY_KEY.lower(), *([DELETED_FIELD.lower()] if soft_delete else [])]
    ordered = [name for name in always if name in loadable] + [n for n in names if n not in always]
    if PRIMARY_KEY.lower() not in loadable:
        raise ColumnNotFoundError(f"sObject {object_name} has no {PRIMARY_KEY} field; it cannot be merged")
    return ObjectSchema(object_name, tuple(loadable[n] for n in dict.fromkeys(ordered)), soft_delete)


def _resolve(
    object_name: str,
    requested: Sequence[str],
    loadable: Mapping[str, SalesforceField],
    components: Mapping[str, list[str]],
    described: Mapping[str, Mapping[str, Any]],
) -> list[str]:
    """Lower-cased names of the requested fields; every problem reported in one error."""
    names: list[str] = []
    problems: list[str] = []
    for raw in requested:
        key = raw.strip().lower()
        if key in loadable:
            names.append(key)
        elif key in components:
            names.extend(components[key])
        elif key in described:
            problems.append(f"{raw} is a {described[key].get('type')} field, which the worker does not load")
        else:
            close = difflib.get_close_matches(raw, [f.name for f in loadable.values()], n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            problems.append(f"No such column '{raw}' on entity '{object_name}'{hint}")
    if problems:
        raise ColumnNotFoundError(f"INVALID_FIELD: {'; '.join(problems)}")
    return names
