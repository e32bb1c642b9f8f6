"""Reading an sObject with the REST API's query resources, page by page (``--api rest``).

Contract: REST API Developer Guide, "Execute a SOQL Query" and "Execute a SOQL Query that
Includes Deleted Items": ``GET query/?q=<SOQL>`` (or ``queryAll/`` to include deleted and
archived records) returns ``records``, ``done`` and, while not done, ``nextRecordsUrl``, the path
of the next page. The page size is asked for with the ``Sforce-Query-Options: batchSize=<n>``
header (200 to 2,000; Salesforce may return fewer).
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator
from typing import Any

import pyarrow as pa

from ingest.background import iterate_in_background
from ingest.sources.salesforce.client import SalesforceClient
from ingest.sources.salesforce.records import batch_from_records
from ingest.sources.salesforce.schema import ObjectSchema

MIN_PAGE_RECORDS = 200
MAX_PAGE_RECORDS = 2000


def read_rest(
    client: SalesforceClient, schema: ObjectSchema, soql: str, batch_size: int
) -> Generator[pa.RecordBatch, None, None]:
    """Run a query and stream its records as batches of ``batch_size`` rows (the last may be smaller).

    The next page is fetched in a background thread while the current one is converted.

    Args:
        client: Connection to the org.
        schema: Selected fields; ``schema.soft_delete`` selects ``queryAll``.
        soql: The statement (see :mod:`ingest.sources.salesforce.soql`).
        batch_size: Rows per yielded batch.

    Yields:
        Record batches with ``schema.arrow_schema``.

    Raises:
        SourceError: If Salesforce refuses the query (e.g. ``INVALID_FIELD``) or a page.
        ConversionError: If a value does not fit its field's type.
    """
    endpoint = "queryAll/" if schema.soft_delete else "query/"
    page_records = min(max(batch_size, MIN_PAGE_RECORDS), MAX_PAGE_RECORDS)
    options = {"Sforce-Query-Options": f"batchSize={page_records}"}
    action = f"querying {schema.name}"

    def pages() -> Generator[list[dict[str, Any]], None, None]:
        response = client.request(
            "GET", endpoint, action=action, object_name=schema.name, params={"q": soql}, headers=options
        )
        while True:
            page = client.json_numbers_as_text(response, action)
            yield list(page.get("records") or [])
            next_url = page.get("nextRecordsUrl")
            if page.get("done", True) is True or not next_url:
                return
            response = client.request("GET", str(next_url), action=action, object_name=schema.name, headers=options)

    rows = 0
    pending: list[dict[str, Any]] = []
    fetched = iterate_in_background(pages, depth=1, name=f"query-{schema.name}")
    with contextlib.closing(fetched):
        for records in fetched:
            pending.extend(records)
            while len(pending) >= batch_size:
                yield batch_from_records(pending[:batch_size], schema, rows + 1)
                rows += batch_size
                del pending[:batch_size]
    if pending:
        yield batch_from_records(pending, schema, rows + 1)
