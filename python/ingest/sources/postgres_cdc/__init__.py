"""``--source postgres-cdc``: a PostgreSQL table's inserts, updates and deletes from its replication slot.

The first run creates the table's logical replication slot (``pgoutput``) and publication and
loads a snapshot consistent with the slot's start; every later run applies the changes committed
since, in order, and advances the slot only after the destination has committed them. See
:mod:`ingest.cdc` for the run, :mod:`.slot` for the slot, :mod:`.changes` for how changes become
a merge, :mod:`.pgoutput` for the message format.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Mapping
from typing import Any

import pyarrow as pa
from worker_kit.connection import url_from_env

from ingest.errors import UsageError
from ingest.kinds import Kind, OptionGroup
from ingest.sources.base import CursorFilter, SourceTable
from ingest.sources.postgres_cdc.slot import ReplicationSlot
from ingest.sources.sql import SqlSource

CDC_SOURCE = "postgres-cdc"
DEFAULT_SCHEMA = "public"
DEFAULT_URL_ENV = "SOURCE_DATABASE_URL"


class PostgresCdcSource:
    """A PostgreSQL table read through its replication slot; also a plain :class:`Source` of it.

    Args:
        url: SQLAlchemy URL of the source database.
        schema: Schema of the tables.
        slot: Replication slot name; None for ``ingest_<schema>_<table>`` (per table, see
            :meth:`slot_for`).
        publication: Publication name; None for the slot's name.
    """

    def __init__(self, url: Any, schema: str, slot: str | None, publication: str | None) -> None:
        if url.get_backend_name() != "postgresql":
            raise UsageError(f"--source {CDC_SOURCE} reads PostgreSQL, not {url.get_backend_name()}")
        self.url = url
        self.schema = schema
        self._slot = slot
        self._publication = publication
        self.tables = SqlSource(url, schema)

    def slot_for(self, table: str) -> ReplicationSlot:
        """The replication slot and publication carrying ``table``'s changes."""
        default = re.sub(r"[^a-z0-9_]", "_", f"ingest_{self.schema}_{table}".lower())[:63]
        slot = self._slot or default
        return ReplicationSlot(self.url, slot, self._publication or slot)

    def snapshot_reader(self, snapshot: str) -> SqlSource:
        """A SQL source whose reads see the database as of an exported snapshot."""
        return SqlSource(self.url, self.schema, snapshot=snapshot)

    def list_tables(self) -> list[str]:
        """The schema's tables and views (see :meth:`SqlSource.list_tables`)."""
        return self.tables.list_tables()

    def describe(self, table: str) -> SourceTable:
        """The table's columns and key (see :meth:`SqlSource.describe`)."""
        return self.tables.describe(table)

    def read(self, table: SourceTable, batch_size: int, cursor: CursorFilter | None
             ) -> Generator[pa.RecordBatch, None, None]:
        """The table's current rows (see :meth:`SqlSource.read`)."""
        return self.tables.read(table, batch_size, cursor)

    def close(self) -> None:
        """Dispose of the connections."""
        self.tables.close()


def _options(group: OptionGroup) -> None:
    group.add("--schema", help="source schema, or database on MySQL/MariaDB (default: the connection's default; "
              f"{DEFAULT_SCHEMA} for {CDC_SOURCE})")
    group.add("--source-url-env", default=DEFAULT_URL_ENV, metavar="VAR",
              help=f"NAME of the environment variable holding the source's SQLAlchemy URL (default: {DEFAULT_URL_ENV})")
    group.add("--slot", metavar="NAME", help="replication slot (default: ingest_<schema>_<table>)")
    group.add("--publication", metavar="NAME", help="publication, created for the table if missing (default: the slot's name)")


def _open(options: Mapping[str, Any], environ: Mapping[str, str]) -> PostgresCdcSource:
    url = url_from_env(options["source_url_env"], "the source database", environ)
    return PostgresCdcSource(url, options["schema"] or DEFAULT_SCHEMA, options["slot"], options["publication"])


POSTGRES_CDC: Kind[Any] = Kind(
    CDC_SOURCE, "a PostgreSQL table's changes from its logical replication slot (pgoutput), after a snapshot",
    _open, _options)
