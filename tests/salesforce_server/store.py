"""The test org's records: one Arrow table per sObject, changed by tests between worker runs.

Changes behave as in Salesforce: an update or an insert stamps ``SystemModstamp`` and
``LastModifiedDate`` with the current time (or a time the test chooses, e.g. to simulate a record
committed late); a delete sets ``IsDeleted`` and stamps the record, which then only ``queryAll``
returns.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .catalog import DEFAULT_ROWS, OBJECTS, ObjectSpec, seed


def now_ms() -> dt.datetime:
    """The current UTC time, truncated to milliseconds (Salesforce's precision)."""
    moment = dt.datetime.now(dt.UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class RecordStore:
    """Records of every test sObject, safe to use from the server's threads and the test.

    Args:
        rows: Records per object (deleted ones included); objects not named get the default.
    """

    def __init__(self, rows: Mapping[str, int] | None = None) -> None:
        counts = {**DEFAULT_ROWS, **(rows or {})}
        self._lock = threading.Lock()
        self._specs = {spec.name.lower(): spec for spec in OBJECTS}
        self._tables = {spec.name: seed(spec, counts[spec.name], counts["Account"]) for spec in OBJECTS}
        self._next_number = {spec.name: counts[spec.name] + 1 for spec in OBJECTS}

    def spec(self, name: str) -> ObjectSpec | None:
        """The sObject called ``name`` (case-insensitive), or None."""
        return self._specs.get(name.lower())

    def specs(self) -> Sequence[ObjectSpec]:
        """Every sObject of the org."""
        return list(self._specs.values())

    def table(self, name: str) -> pa.Table:
        """The current records of an sObject, deleted ones included."""
        with self._lock:
            return self._tables[self._name(name)]

    def rows(self, name: str, include_deleted: bool = True) -> list[dict[str, Any]]:
        """The records as Python dicts (what the warehouse should hold), sorted by Id."""
        table = self.table(name)
        if not include_deleted:
            table = table.filter(pc.invert(table["IsDeleted"]))
        return sorted(table.to_pylist(), key=lambda row: row["Id"])

    def ids(self, name: str, include_deleted: bool = False) -> list[str]:
        """Ids of the records, sorted."""
        return [row["Id"] for row in self.rows(name, include_deleted)]

    def update(self, name: str, record_id: str, values: Mapping[str, Any], modstamp: dt.datetime | None = None) -> None:
        """Change fields of a record and stamp it.

        Raises:
            KeyError: If the record does not exist.
        """
        self._change(name, record_id, dict(values), modstamp or now_ms())

    def delete(self, name: str, record_id: str, modstamp: dt.datetime | None = None) -> None:
        """Delete a record (to the recycle bin: ``IsDeleted = true``) and stamp it."""
        self._change(name, record_id, {"IsDeleted": True}, modstamp or now_ms())

    def insert(self, name: str, values: Mapping[str, Any], modstamp: dt.datetime | None = None) -> str:
        """Add a record; unset fields are null, ``Id`` and the audit fields are filled in.

        Returns:
            The new record's Id.
        """
        stamp = modstamp or now_ms()
        key = self._name(name)
        spec = self._specs[key.lower()]
        with self._lock:
            number = self._next_number[key]
            self._next_number[key] += 1
            record_id = f"{spec.key_prefix}{number:015d}"
            row = {f.name: None for f in spec.stored}
            row.update(values)
            row.update(Id=record_id, IsDeleted=False, CreatedDate=stamp, LastModifiedDate=stamp, SystemModstamp=stamp)
            table = self._tables[key]
            self._tables[key] = pa.concat_tables([table, pa.Table.from_pylist([row], schema=table.schema)])
        return record_id

    def _change(self, name: str, record_id: str, values: dict[str, Any], stamp: dt.datetime) -> None:
        key = self._name(name)
        values.update(LastModifiedDate=stamp, SystemModstamp=stamp)
        with self._lock:
            table = self._tables[key]
            rows = table.to_pylist()
            matches = [row for row in rows if row["Id"] == record_id]
            if not matches:
                raise KeyError(f"{key} {record_id} does not exist")
            matches[0].update(values)
            self._tables[key] = pa.Table.from_pylist(rows, schema=table.schema)

    def _name(self, name: str) -> str:
        spec = self._specs.get(name.lower())
        if spec is None:
            raise KeyError(f"no sObject {name}")
        return spec.name
