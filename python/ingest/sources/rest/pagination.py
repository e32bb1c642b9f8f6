"""Pagination styles: given a page's response, the request for the next page, or None.

Parameter-based styles (page number, offset, body cursor) repeat the first request's query
parameters (static and incremental ones) with the pagination parameter changed; link-based
styles (``Link`` header, next URL in the body) follow the URL the API returns as it is, since it
already carries the query. Styles that cannot know the last page stop at a page without records.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol
from urllib.parse import urljoin

import requests

from ingest.errors import SourceError
from ingest.sources.rest.client import display_url
from ingest.sources.rest.config import (
    CursorPagination,
    LinkHeaderPagination,
    NextUrlPagination,
    OffsetPagination,
    PageNumberPagination,
    Pagination,
)
from ingest.sources.rest.records import MISSING, value_at


@dataclass(frozen=True)
class PageRequest:
    """The URL and query parameters of one page.

    Attributes:
        url: Absolute URL (may hold a query of its own for link-based styles).
        params: Query parameters added to the URL.
    """

    url: str
    params: Mapping[str, str] = field(default_factory=dict)

    def with_param(self, name: str, value: object) -> PageRequest:
        """The same request with one query parameter set."""
        return replace(self, params={**self.params, name: str(value)})


class Paginator(Protocol):
    """One pagination style."""

    def first(self, request: PageRequest) -> PageRequest:
        """The first page's request, from the endpoint's URL and its static parameters."""
        ...

    def next(self, request: PageRequest, response: requests.Response, body: Any, records: int) -> PageRequest | None:
        """The next page's request, or None after the last page.

        Args:
            request: The request just answered.
            response: Its response (headers for ``Link``).
            body: Its decoded JSON body.
            records: Records the page held.

        Raises:
            SourceError: If the body contradicts the style (a total that is not a number, a
                cursor that does not advance).
        """
        ...


def _number(body: Any, path: str, request: PageRequest) -> int | None:
    """The integer at ``path`` of the body, None when absent."""
    value = value_at(body, path)
    if value is MISSING or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SourceError(
            f"{display_url(request.url)}: {path!r} should hold a number of pages or records, not {value!r}"
        ) from None


class SinglePage:
    """The endpoint answers with one page."""

    def first(self, request: PageRequest) -> PageRequest:
        return request

    def next(self, request: PageRequest, response: requests.Response, body: Any, records: int) -> PageRequest | None:
        return None


class PageNumberPaginator:
    """``page=first_page, first_page + 1, ...``."""

    def __init__(self, config: PageNumberPagination) -> None:
        self._config = config

    def first(self, request: PageRequest) -> PageRequest:
        first = request.with_param(self._config.page_param, self._config.first_page)
        if self._config.size_param is not None:
            first = first.with_param(self._config.size_param, self._config.page_size)
        return first

    def next(self, request: PageRequest, response: requests.Response, body: Any, records: int) -> PageRequest | None:
        page = int(request.params[self._config.page_param])
        if records == 0:
            return None
        if self._config.total_pages_path is not None:
            total = _number(body, self._config.total_pages_path, request)
            if total is not None and page - self._config.first_page + 1 >= total:
                return None
        return request.with_param(self._config.page_param, page + 1)


class OffsetPaginator:
    """``offset=0, n, 2n, ...``, advancing by the records received (robust to a capped limit)."""

    def __init__(self, config: OffsetPagination) -> None:
        self._config = config

    def first(self, request: PageRequest) -> PageRequest:
        return request.with_param(self._config.offset_param, 0).with_param(self._config.limit_param, self._config.limit)

    def next(self, request: PageRequest, response: requests.Response, body: Any, records: int) -> PageRequest | None:
        if records == 0:
            return None
        offset = int(request.params[self._config.offset_param]) + records
        if self._config.total_path is not None:
            total = _number(body, self._config.total_path, request)
            if total is not None and offset >= total:
                return None
        return request.with_param(self._config.offset_param, offset)


class CursorPaginator:
    """The body's ``cursor_path`` value, sent back as ``cursor_param``."""

    def __init__(self, config: CursorPagination) -> None:
        self._config = config

    def first(self, request: PageRequest) -> PageRequest:
        return request

    def next(self, request: PageRequest, response: requests.Response, body: Any, records: int) -> PageRequest | None:
        cursor = value_at(body, self._config.cursor_path)
        if records == 0 or cursor is MISSING or cursor is None or cursor == "":
            return None
        if str(cursor) == request.params.get(self._config.cursor_param):
            raise SourceError(
                f"{display_url(request.url)}: the cursor at {self._config.cursor_path!r} did not advance; "
                f"stopping instead of fetching the same page forever"
            )
        return request.with_param(self._config.cursor_param, cursor)


class LinkPaginator:
    """A next-page URL from the ``Link`` header (``rel="next"``) or a path of the body."""

    def __init__(self, next_url_path: str | None) -> None:
        self._next_url_path = next_url_path

    def first(self, request: PageRequest) -> PageRequest:
        return request

    def next(self, request: PageRequest, response: requests.Response, body: Any, records: int) -> PageRequest | None:
        if self._next_url_path is None:
            link = response.links.get("next", {}).get("url")
        else:
            found = value_at(body, self._next_url_path)
            link = found if isinstance(found, str) else None
        if not link:
            return None
        # Relative links are relative to the page that holds them.
        return PageRequest(urljoin(response.url, link))


def paginator_for(config: Pagination) -> Paginator:
    """The paginator of a ``pagination`` block.

    Args:
        config: The block (the endpoint's, else the file's).

    Returns:
        A paginator; it keeps no state between pages, so one serves a whole run.
    """
    if isinstance(config, PageNumberPagination):
        return PageNumberPaginator(config)
    if isinstance(config, OffsetPagination):
        return OffsetPaginator(config)
    if isinstance(config, CursorPagination):
        return CursorPaginator(config)
    if isinstance(config, LinkHeaderPagination):
        return LinkPaginator(None)
    if isinstance(config, NextUrlPagination):
        return LinkPaginator(config.next_url_path)
    return SinglePage()
