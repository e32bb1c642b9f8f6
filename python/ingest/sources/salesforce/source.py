"""The Salesforce source: sObjects of one org behind the worker's :class:`~ingest.sources.base.Source`.

``describe`` reads the sObject describe and chooses the fields (see
:mod:`ingest.sources.salesforce.schema`); ``read`` sends one SOQL query (see
:mod:`ingest.sources.salesforce.soql`) through the REST query resources or a Bulk API 2.0 query
job. With deleted records included (the default), the query is ``queryAll`` and ``IsDeleted`` is
always selected, so a record deleted since the last run arrives with ``IsDeleted = true`` and the
merge on ``Id`` records the deletion (a soft delete) instead of losing it.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Generator

import pyarrow as pa

from ingest.errors import SourceError, TableNotFoundError
from ingest.sources.base import CursorFilter, SourceTable
from ingest.sources.salesforce.bulk_query import read_bulk
from ingest.sources.salesforce.client import SalesforceClient
from ingest.sources.salesforce.rest_query import read_rest
from ingest.sources.salesforce.schema import PRIMARY_KEY, ObjectSchema, object_schema
from ingest.sources.salesforce.settings import Api, SalesforceSettings
from ingest.sources.salesforce.soql import select_statement

logger = logging.getLogger(__name__)

_API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class SalesforceSource:
    """The sObjects of one Salesforce org.

    Args:
        client: Connection to the org; it logs in on the first request.
        settings: How objects are read.
    """

    def __init__(self, client: SalesforceClient, settings: SalesforceSettings) -> None:
        self._client = client
        self._settings = settings
        self._schemas: dict[str, ObjectSchema] = {}

    def list_tables(self) -> list[str]:
        """API names of the org's queryable sObjects, sorted.

        Raises:
            SourceError: If Salesforce refuses the request (describe global).
        """
        listing = self._client.get_json("sobjects/", action="listing sObjects")
        return sorted(str(o["name"]) for o in listing.get("sobjects", []) if o.get("queryable"))

    def describe(self, table: str) -> SourceTable:
        """Describe an sObject and choose its fields.

        Args:
            table: API name of the sObject (case-insensitive), e.g. ``Account``.

        Returns:
            The object with primary key ``Id``, named as Salesforce spells it.

        Raises:
            TableNotFoundError: If the org has no such sObject (``INVALID_TYPE``); the message
                suggests close names.
            ColumnNotFoundError: If ``--fields`` names fields the object lacks (``INVALID_FIELD``).
            SourceError: If the object cannot be queried, or Salesforce refuses the request.
        """
        if not _API_NAME.match(table):
            raise TableNotFoundError(f"INVALID_TYPE: {table!r} is not an sObject API name")
        try:
            described = self._client.get_json(
                f"sobjects/{table}/describe/", action=f"describing {table}", object_name=table
            )
        except TableNotFoundError:
            raise TableNotFoundError(self._not_found(table)) from None
        schema = object_schema(described, self._settings.fields, self._settings.include_deleted)
        if not described.get("queryable", True):
            raise SourceError(f"sObject {schema.name} cannot be queried (its describe says queryable: false)")
        if self._settings.include_deleted and not schema.soft_delete:
            logger.warning("%s has no IsDeleted field: deletions cannot be recorded", schema.name)
        self._schemas[schema.name] = schema
        return SourceTable(schema.name, schema.arrow_schema, (PRIMARY_KEY,))

    def read(
        self, table: SourceTable, batch_size: int, cursor: CursorFilter | None
    ) -> Generator[pa.RecordBatch, None, None]:
        """Stream an sObject's records.

        Args:
            table: As returned by :meth:`describe`.
            batch_size: Rows per batch (and per Bulk API result page).
            cursor: Inclusive lower bound on the cursor field (lowered by the lookback).

        Yields:
            Record batches with ``table.schema``.

        Raises:
            UsageError: If the cursor cannot be used in SOQL or with the lookback.
            SourceError: If Salesforce refuses the query or the job fails.
            ConversionError: If a value does not fit its field's type.
        """
        schema = self._schemas[table.name]
        soql = select_statement(schema, cursor, self._settings.lookback)
        verb = "queryAll" if schema.soft_delete else "query"
        logger.info(
            "reading %s with the %s API (%s, %d fields)", schema.name, self._settings.api, verb, len(schema.fields)
        )
        logger.debug("SOQL: %s", soql)
        if self._settings.api is Api.BULK:
            yield from read_bulk(self._client, schema, soql, batch_size, self._settings.bulk_timeout)
        else:
            yield from read_rest(self._client, schema, soql, batch_size)

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    def _not_found(self, table: str) -> str:
        names = self.list_tables()
        close = difflib.get_close_matches(table, names, n=3) or [n for n in names if n.lower() == table.lower()]
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        return f"INVALID_TYPE: sObject type {table!r} not found in Salesforce{hint}"
