"""The ``rest`` source: each endpoint of a JSON API is a table, read page by page.

Pages are fetched in a background thread (the next request is in flight while the current
records are converted), their records flattened and converted to Arrow in batches of
``batch_size`` records. With undeclared fields inferred, the batches go through a
:class:`~ingest.sources.rest.spill.Spill` so that every batch yielded has the unified schema.

An incremental read sends its lower bound to the API in the endpoint's ``incremental.param``
and also keeps only records whose cursor is at or after it, so an API that ignores the
parameter, or treats it as exclusive, still yields exactly the rows the worker expects.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
from collections.abc import Generator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ingest.background import iterate_in_background
from ingest.errors import SourceError, TableNotFoundError
from ingest.sources.base import CursorFilter, SourceTable
from ingest.sources.rest.client import HttpClient, display_url, json_body
from ingest.sources.rest.columns import RecordConverter
from ingest.sources.rest.config import Endpoint, ParamValue
from ingest.sources.rest.config_file import load_config
from ingest.sources.rest.pagination import PageRequest, paginator_for
from ingest.sources.rest.records import flatten, records_of
from ingest.sources.rest.resolve import ResolvedApi, resolve_api
from ingest.sources.rest.spill import Spill
from ingest.watermark import CursorValue

logger = logging.getLogger(__name__)

_PAGES_AHEAD = 2


def param_text(value: ParamValue) -> str:
    """A static query parameter as text (booleans as ``true``/``false``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def bound_text(value: CursorValue, fmt: str) -> str:
    """An incremental lower bound as its query parameter's text.

    Args:
        value: The bound, typed as the cursor column (a naive datetime is taken as UTC).
        fmt: ``iso8601`` (UTC written ``...Z``), ``unix_seconds``, ``unix_milliseconds`` (both
            rounded down, so no record is skipped) or a ``strftime`` pattern; applies to dates
            and timestamps, other values are written as they are.

    Returns:
        The parameter value.
    """
    if not isinstance(value, dt.date):
        return str(value)
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    else:
        moment = dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC)
    if fmt == "unix_seconds":
        return str(int(moment.timestamp() // 1))
    if fmt == "unix_milliseconds":
        return str(int(moment.timestamp() * 1000 // 1))
    if fmt != "iso8601":
        return moment.strftime(fmt)
    if not isinstance(value, dt.datetime):
        return value.isoformat()
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


class RestSource:
    """The endpoints of one REST API.

    Args:
        api: The resolved source file (base URL, auth, endpoints).
        config_path: The file, for messages.
    """

    def __init__(self, api: ResolvedApi, config_path: Path) -> None:
        self._api = api
        self._config_path = config_path
        self._client = HttpClient(api)

    def list_tables(self) -> list[str]:
        """Names of the endpoints, sorted."""
        return sorted(self._api.config.endpoints)

    def describe(self, table: str) -> SourceTable:
        """The endpoint's declared columns and primary key (no request is sent).

        Raises:
            TableNotFoundError: If the file has no such endpoint; the message lists them.
        """
        endpoint = self._endpoint(table)
        converter = RecordConverter(table, endpoint.columns, endpoint.undeclared_fields == "infer")
        return SourceTable(table, converter.declared_schema, endpoint.primary_key)

    def read(
        self, table: SourceTable, batch_size: int, cursor: CursorFilter | None
    ) -> Generator[pa.RecordBatch, None, None]:
        """Fetch every page of the endpoint and yield its records as record batches.

        Args:
            table: The endpoint, as returned by :meth:`describe`.
            batch_size: Records per batch.
            cursor: Optional inclusive lower bound on a declared column.

        Yields:
            Batches with the declared columns, then the inferred ones, all of one schema.

        Raises:
            HttpStatusError: If the API answers 4xx (not 429): wrong credentials, path, params.
            SourceConnectionError: If retries of 429, 5xx or connection failures ran out.
            AmbiguousOutcomeError: If a POST failed after it was sent.
            SourceError: If a body is not JSON or does not fit the endpoint's configuration.
            ConversionError: If a declared column's value does not convert.
        """
        endpoint = self._endpoint(table.name)
        converter = RecordConverter(table.name, endpoint.columns, endpoint.undeclared_fields == "infer")
        batches = self._batches(table.name, endpoint, converter, batch_size, cursor)
        with contextlib.closing(batches):
            if not converter.infer:
                yield from batches
                return
            with Spill() as spill:
                for batch in batches:
                    spill.add(batch)
                yield from spill.replay()

    def close(self) -> None:
        """Close the HTTP session."""
        self._client.close()

    def _endpoint(self, name: str) -> Endpoint:
        endpoints = self._api.config.endpoints
        if name not in endpoints:
            raise TableNotFoundError(
                f"endpoint {name!r} not found in {self._config_path}; endpoints: {', '.join(sorted(endpoints))}"
            )
        return endpoints[name]

    def _batches(
        self,
        name: str,
        endpoint: Endpoint,
        converter: RecordConverter,
        batch_size: int,
        cursor: CursorFilter | None,
    ) -> Generator[pa.RecordBatch, None, None]:
        """Group the pages' records into batches of ``batch_size``; keep rows >= the bound."""
        pages = iterate_in_background(
            lambda: self._pages(name, endpoint, cursor), depth=_PAGES_AHEAD, name=f"fetch-{name}"
        )
        pending: list[dict[str, Any]] = []
        with contextlib.closing(pages):
            for records in pages:
                pending.extend(records)
                while len(pending) >= batch_size:
                    batch = _at_or_after(converter.convert(pending[:batch_size]), cursor)
                    del pending[:batch_size]
                    if batch.num_rows:
                        yield batch
        if pending:
            batch = _at_or_after(converter.convert(pending), cursor)
            if batch.num_rows:
                yield batch

    def _pages(
        self, name: str, endpoint: Endpoint, cursor: CursorFilter | None
    ) -> Generator[list[dict[str, Any]], None, None]:
        """Request page after page; yield each page's flat records."""
        params = {key: param_text(value) for key, value in endpoint.params.items()}
        incremental = endpoint.incremental
        if cursor is not None:
            if incremental is not None and incremental.cursor_field == cursor.column:
                params[incremental.param] = bound_text(cursor.lower_bound, incremental.format)
            else:
                logger.info(
                    "endpoint %r sends no incremental parameter for %r: fetching every page and "
                    "keeping records with %s >= the watermark",
                    name,
                    cursor.column,
                    cursor.column,
                )
        paginator = paginator_for(self._api.config.pagination_of(endpoint))
        request: PageRequest | None = paginator.first(
            PageRequest(self._api.base_url + endpoint.path.lstrip("/"), params)
        )
        keep = frozenset(endpoint.columns)
        previous_digest = b""
        pages = records_total = 0
        while request is not None:
            response = self._client.send(endpoint.method, request.url, request.params, endpoint.body)
            body = json_body(response)
            records = records_of(body, endpoint.records_path, f"{endpoint.method} {display_url(response.url)}")
            pages += 1
            digest = hashlib.sha256(response.content).digest()
            if records and digest == previous_digest:
                raise SourceError(
                    f"endpoint {name!r}: page {pages} repeats page {pages - 1}; does the API "
                    f"honour the pagination parameters?"
                )
            previous_digest = digest
            records_total += len(records)
            yield [flatten(record, keep) for record in records]
            request = paginator.next(request, response, body, len(records))
        logger.info("endpoint %r: %s records in %d page(s)", name, f"{records_total:,}", pages)


def _at_or_after(batch: pa.RecordBatch, cursor: CursorFilter | None) -> pa.RecordBatch:
    """The rows whose cursor is at or after the bound (rows with a null cursor are dropped)."""
    if cursor is None:
        return batch
    column = batch.column(cursor.column)
    bound = pa.scalar(cursor.lower_bound, type=column.type)
    return batch.filter(pc.greater_equal(column, bound))


def open_rest_source(config_path: Path, environ: Mapping[str, str]) -> RestSource:
    """Load, validate and resolve a REST source file.

    Args:
        config_path: The YAML file.
        environ: Environment holding the base URL override and the secrets.

    Returns:
        The source; no request has been sent.

    Raises:
        ConfigError: If the file is invalid (located by line and key) or a variable it names is
            unset (all of them named at once).
    """
    config = load_config(config_path)
    return RestSource(resolve_api(config, config_path, environ), config_path)
