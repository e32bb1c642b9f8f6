"""The test server's data API under ``/services/data/v<version>/``: describe, query, Bulk API 2.0.

- ``GET sobjects/`` and ``GET sobjects/<object>/describe/`` (404 ``NOT_FOUND`` for an unknown
  object);
- ``GET query/?q=`` and ``GET queryAll/?q=``, pages of ``Sforce-Query-Options: batchSize=<n>``
  records (200..2000, default 2000) linked by ``nextRecordsUrl``;
- ``POST jobs/query``, ``GET jobs/query/<id>``, ``GET jobs/query/<id>/results?maxRecords=&locator=``
  (CSV, ``Sforce-Locator`` header, ``null`` after the last page), ``PATCH`` (abort), ``DELETE``.

Results are computed when the query arrives (a snapshot, as Salesforce's cursors are).
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from . import soql
from .formats import csv_page, json_records
from .state import BulkJob, QueryCursor, ServerState

DEFAULT_PAGE = 2000
DEFAULT_BULK_PAGE = 50_000


def error(status: int, code: str, message: str) -> JSONResponse:
    """Salesforce's error body: a list of ``{"message", "errorCode"}``."""
    return JSONResponse([{"message": message, "errorCode": code}], status_code=status)


def _page_size(request: Request) -> int:
    match = re.search(r"batchSize=(\d+)", request.headers.get("Sforce-Query-Options", ""))
    return min(max(int(match[1]), 200), 2000) if match else DEFAULT_PAGE


def _encode_locator(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode().rstrip("=")


def _decode_locator(locator: str) -> int:
    padded = locator + "=" * (-len(locator) % 4)
    return int(base64.b64decode(padded, validate=True).decode())


def data_router(state: ServerState) -> APIRouter:
    """The data API routes, bound to ``state``."""
    router = APIRouter(prefix="/services/data/v{version}")

    def pause() -> None:
        if state.faults.page_delay_seconds:
            time.sleep(state.faults.page_delay_seconds)

    @router.get("/sobjects/")
    def describe_global(version: str) -> dict[str, Any]:
        return {"encoding": "UTF-8", "maxBatchSize": 200,
                "sobjects": [{"name": s.name, "queryable": True, "keyPrefix": s.key_prefix} for s in state.store.specs()]}  # fmt: skip

    @router.get("/sobjects/{name}/describe/")
    def describe(version: str, name: str) -> Any:
        spec = state.store.spec(name)
        if spec is None:
            return error(404, "NOT_FOUND", "The requested resource does not exist")
        return spec.describe()

    def first_page(version: str, q: str, request: Request, include_deleted: bool) -> Any:
        try:
            query = soql.parse(q, state.store, state.rejected_fields)
        except soql.SoqlError as exc:
            return error(400, exc.code, exc.message)
        cursor_id = f"01g{state.number():015d}"
        table = soql.run(query, state.store, include_deleted)
        with state.lock:
            state.cursors[cursor_id] = QueryCursor(table, _page_size(request), include_deleted, query.spec.name)
        return page(version, cursor_id, 0)

    def page(version: str, cursor_id: str, offset: int) -> Any:
        cursor = state.cursors.get(cursor_id)
        if cursor is None or not 0 <= offset <= cursor.table.num_rows:
            return error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        pause()
        chunk = cursor.table.slice(offset, cursor.page_size)
        end = offset + chunk.num_rows
        body: dict[str, Any] = {"totalSize": cursor.table.num_rows, "done": end >= cursor.table.num_rows,
                                "records": json_records(chunk, cursor.object_name, version)}  # fmt: skip
        if not body["done"]:
            resource = "queryAll" if cursor.include_deleted else "query"
            body["nextRecordsUrl"] = f"/services/data/v{version}/{resource}/{cursor_id}-{end}"
        return JSONResponse(body)  # skips FastAPI's per-value encoding of thousands of records

    @router.get("/query/")
    def query(version: str, q: str, request: Request) -> Any:
        return first_page(version, q, request, include_deleted=False)

    @router.get("/queryAll/")
    def query_all(version: str, q: str, request: Request) -> Any:
        return first_page(version, q, request, include_deleted=True)

    @router.get("/{resource}/{locator}")
    def more(version: str, resource: str, locator: str) -> Any:
        cursor_id, _, offset = locator.partition("-")
        if resource not in ("query", "queryAll") or not offset.isdigit():
            return error(404, "NOT_FOUND", "The requested resource does not exist")
        return page(version, cursor_id, int(offset))

    @router.post("/jobs/query")
    async def create_job(version: str, request: Request) -> Any:
        body = await request.json()
        operation = body.get("operation")
        if operation not in ("query", "queryAll"):
            return error(400, "INVALIDJOB", f"InvalidJob : unsupported operation {operation}")
        try:
            query = soql.parse(str(body.get("query", "")), state.store, state.rejected_fields)
        except soql.SoqlError as exc:
            return error(400, "INVALIDJOB", exc.message.strip().splitlines()[-1])
        job = BulkJob(f"750{state.number():015d}", operation, query.spec.name,
                      soql.run(query, state.store, operation == "queryAll"), state.bulk_polls)  # fmt: skip
        with state.lock:
            state.jobs[job.id] = job
        return job.info(version)

    @router.get("/jobs/query/{job_id}")
    def job_status(version: str, job_id: str) -> Any:
        job = state.jobs.get(job_id)
        if job is None:
            return error(404, "NOT_FOUND", "The requested resource does not exist")
        with state.lock:
            if job.state in ("UploadComplete", "InProgress"):
                job.state = "InProgress" if job.polls_left > 0 else "JobComplete"
                job.polls_left -= 1
        return job.info(version)

    @router.get("/jobs/query/{job_id}/results")
    def results(version: str, job_id: str, maxRecords: int = DEFAULT_BULK_PAGE, locator: str = "") -> Response:  # noqa: N803
        job = state.jobs.get(job_id)
        if job is None or job.state != "JobComplete":
            return error(400, "INVALIDJOB", "job not found or not complete")
        try:
            offset = _decode_locator(locator) if locator else 0
        except (ValueError, binascii.Error):
            return error(400, "INVALIDLOCATOR", "invalid locator")
        pause()
        chunk = job.result.slice(offset, max(maxRecords, 1))
        end = offset + chunk.num_rows
        next_locator = _encode_locator(end) if end < job.result.num_rows else "null"
        headers = {"Sforce-Locator": next_locator, "Sforce-NumberOfRecords": str(chunk.num_rows)}
        return Response(csv_page(chunk), media_type="text/csv", headers=headers)

    @router.patch("/jobs/query/{job_id}")
    async def abort(version: str, job_id: str, request: Request) -> Any:
        job = state.jobs.get(job_id)
        if job is None:
            return error(404, "NOT_FOUND", "The requested resource does not exist")
        if (await request.json()).get("state") != "Aborted" or job.state in ("JobComplete", "Failed"):
            return error(400, "INVALIDJOB", f"cannot abort a job in state {job.state}")
        job.state = "Aborted"
        return job.info(version)

    @router.delete("/jobs/query/{job_id}")
    def delete(version: str, job_id: str) -> Response:
        if state.jobs.pop(job_id, None) is None:
            return error(404, "NOT_FOUND", "The requested resource does not exist")
        return Response(status_code=204)

    return router
