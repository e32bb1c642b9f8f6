"""Reading an sObject with a Bulk API 2.0 query job (``--api bulk``), for large objects.

Contract: Bulk API 2.0 and Bulk API Developer Guide, "Bulk API 2.0 Query":

1. ``POST jobs/query`` with ``{"operation": "query" | "queryAll", "query": <SOQL>}`` creates a
   job (CSV, comma, LF by default);
2. ``GET jobs/query/<id>`` reports ``state``: ``UploadComplete`` and ``InProgress`` while it
   runs, then ``JobComplete``, ``Failed`` (with ``errorMessage``) or ``Aborted``;
3. ``GET jobs/query/<id>/results?maxRecords=<n>[&locator=<l>]`` returns one page of CSV; the
   ``Sforce-Locator`` response header names the next page, or is ``null`` after the last;
4. ``PATCH jobs/query/<id>`` with ``{"state": "Aborted"}`` stops a job, ``DELETE jobs/query/<id>``
   removes a finished one.

The worker waits for the job at most ``timeout`` seconds (polling with capped exponential
backoff), fetches pages of ``batch_size`` records one ahead in a background thread, and parses
each with Arrow's CSV reader. The job is aborted if still running and deleted in every case.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Generator
from typing import Any

import pyarrow as pa

from ingest.background import iterate_in_background
from ingest.errors import SourceError
from ingest.sources.salesforce.client import SalesforceClient
from ingest.sources.salesforce.errors import SalesforceTimeoutError
from ingest.sources.salesforce.records import batch_from_csv
from ingest.sources.salesforce.schema import ObjectSchema

logger = logging.getLogger(__name__)

FIRST_POLL_SECONDS = 0.2
MAX_POLL_SECONDS = 10.0
RUNNING_STATES = frozenset({"Open", "UploadComplete", "InProgress"})
_NO_MORE_PAGES = ("", "null")


class _JobEndedError(SourceError):
    """The job ended ``Failed`` or ``Aborted``: there is nothing left to abort."""


def read_bulk(
    client: SalesforceClient, schema: ObjectSchema, soql: str, batch_size: int, timeout: float
) -> Generator[pa.RecordBatch, None, None]:
    """Run a query job and stream its result pages as record batches.

    Args:
        client: Connection to the org.
        schema: Selected fields; ``schema.soft_delete`` selects the ``queryAll`` operation.
        soql: The statement.
        batch_size: Records per result page (``maxRecords``), hence per batch.
        timeout: Seconds to wait for the job to complete.

    Yields:
        One record batch per result page, with ``schema.arrow_schema``.

    Raises:
        SourceError: If Salesforce refuses the job or the job fails.
        SalesforceTimeoutError: If the job is still running after ``timeout`` seconds.
        ConversionError: If a value does not fit its field's type.
    """
    operation = "queryAll" if schema.soft_delete else "query"
    created = client.request(
        "POST",
        "jobs/query",
        action=f"creating a Bulk API 2.0 query job for {schema.name}",
        object_name=schema.name,
        body={
            "operation": operation,
            "query": soql,
            "contentType": "CSV",
            "columnDelimiter": "COMMA",
            "lineEnding": "LF",
        },
    )
    job_id = str(client.json_numbers_as_text(created, "creating a query job")["id"])
    logger.info("Bulk API 2.0 %s job %s for %s created", operation, job_id, schema.name)
    running = True
    try:
        try:
            _wait_for_completion(client, job_id, schema.name, timeout)
        except _JobEndedError:
            running = False
            raise
        running = False
        rows = 0
        pages = iterate_in_background(
            lambda: _result_pages(client, job_id, schema.name, batch_size), depth=1, name=f"bulk-{schema.name}"
        )
        with contextlib.closing(pages):
            for page in pages:
                batch = batch_from_csv(page, schema, rows + 1)
                if batch is not None:
                    rows += batch.num_rows
                    yield batch
    finally:
        _discard(client, job_id, running)


def _wait_for_completion(client: SalesforceClient, job_id: str, object_name: str, timeout: float) -> None:
    """Poll the job until it completes; raise if it fails, is aborted or outlasts ``timeout``."""
    deadline = time.monotonic() + timeout
    delay = FIRST_POLL_SECONDS
    action = f"checking Bulk API 2.0 query job {job_id} for {object_name}"
    while True:
        info: dict[str, Any] = client.get_json(f"jobs/query/{job_id}", action=action)
        state = str(info.get("state"))
        if state == "JobComplete":
            logger.info("job %s complete (%s records)", job_id, info.get("numberRecordsProcessed", "?"))
            return
        if state not in RUNNING_STATES:
            reason = info.get("errorMessage") or "no reason given"
            raise _JobEndedError(
                f"Salesforce Bulk API 2.0 query job {job_id} for {object_name} ended {state}: {reason}"
            )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise SalesforceTimeoutError(
                f"Salesforce Bulk API 2.0 query job {job_id} for {object_name} still {state} after "
                f"{timeout:g}s; raise --bulk-timeout or retry later"
            )
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, MAX_POLL_SECONDS)


def _result_pages(
    client: SalesforceClient, job_id: str, object_name: str, batch_size: int
) -> Generator[bytes, None, None]:
    """The CSV bodies of the job's result pages, following ``Sforce-Locator``."""
    locator: str | None = None
    action = f"downloading results of query job {job_id} for {object_name}"
    while True:
        params: dict[str, Any] = {"maxRecords": batch_size}
        if locator:
            params["locator"] = locator
        response = client.request(
            "GET", f"jobs/query/{job_id}/results", action=action, params=params, headers={"Accept": "text/csv"}
        )
        yield response.content
        locator = response.headers.get("Sforce-Locator", "").strip()
        if locator in _NO_MORE_PAGES:
            return


def _discard(client: SalesforceClient, job_id: str, running: bool) -> None:
    """Abort the job if it may still run, then delete it; failures are logged, not raised.

    Runs while another error may be propagating: raising here would hide that error, and a job
    left behind only costs storage until Salesforce removes it (after 7 days).
    """
    steps: list[tuple[str, str, dict[str, str] | None]] = [("DELETE", "delete", None)]
    if running:
        steps.insert(0, ("PATCH", "abort", {"state": "Aborted"}))
    for method, verb, body in steps:
        try:
            client.request(method, f"jobs/query/{job_id}", action=f"{verb} query job {job_id}", body=body)
        except SourceError as exc:
            logger.warning("could not %s Bulk API 2.0 query job %s: %s", verb, job_id, exc)
