"""A JSON REST API served on loopback by a real HTTP server, for the ``rest`` source's tests.

Each route serves one collection of records in one pagination style, requires credentials,
filters on an ``updated_at`` lower bound like GitHub's ``since``, caps page sizes at
:data:`MAX_PAGE_SIZE` so a handful of records spans several pages, and can be told to fail on
purpose: answer a given request to a path with 429 + ``Retry-After``, 5xx, or a slow reply.
The e2e test loads this file by path, so it imports nothing from the test suite.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlencode, urlsplit

TOKEN = "tok-Secret-7f3a9"
USERNAME = "ingest-bot"
MAX_PAGE_SIZE = 3


@dataclass(frozen=True)
class Route:
    """How one path serves one collection.

    Attributes:
        collection: Key of :attr:`FakeApi.records`.
        style: ``page_number``, ``offset``, ``cursor``, ``link_header``, ``next_url`` or ``single``.
        since_param: Query parameter filtering ``updated_at >= value`` (ISO 8601).
        method: ``GET``, or ``POST`` (single page, any JSON body).
    """

    collection: str
    style: str
    since_param: str = "updated_since"
    method: str = "GET"


@dataclass(frozen=True)
class Fault:
    """A deliberate failure: a status (with an optional ``Retry-After``) or a delay in seconds."""

    status: int = 0
    retry_after: str | None = None
    delay: float = 0.0


@dataclass
class FakeApi:
    """State of the fake API; tests edit ``records`` between runs.

    Attributes:
        base_url: ``http://127.0.0.1:<port>``, set when the server starts.
        routes: Served paths.
        records: Records of each collection.
        auth: ``bearer``, ``basic``, ``api_key_header`` (``X-API-Key``) or ``api_key_query``
            (``api_key``); the secret is :data:`TOKEN` (the password for basic).
        forbidden: Paths that answer 403 to valid credentials.
        requests: ``(method, path, query parameters)`` of every request, in order.
    """

    base_url: str = ""
    routes: dict[str, Route] = field(default_factory=dict)
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    auth: str = "bearer"
    forbidden: set[str] = field(default_factory=set)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    _faults: dict[str, dict[int, Fault]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    token: ClassVar[str] = TOKEN
    username: ClassVar[str] = USERNAME

    def fail(self, path: str, at_request: int, status: int, retry_after: str | None = None, times: int = 1) -> None:
        """Answer ``times`` requests to ``path``, from its ``at_request``-th on, with ``status``."""
        planned = self._faults.setdefault(path, {})
        for offset in range(times):
            planned[at_request + offset] = Fault(status, retry_after)

    def delay(self, path: str, at_request: int, seconds: float) -> None:
        """Answer the ``at_request``-th request to ``path`` only after ``seconds``."""
        self._faults.setdefault(path, {})[at_request] = Fault(delay=seconds)

    def requests_to(self, path: str) -> list[dict[str, str]]:
        """Query parameters of every request to ``path``."""
        return [params for _, seen, params in self.requests if seen == path]

    def _record_request(self, method: str, path: str, params: dict[str, str]) -> Fault | None:
        with self._lock:
            self.requests.append((method, path, params))
            number = sum(1 for _, seen, _ in self.requests if seen == path)
            return self._faults.get(path, {}).pop(number, None)

    def authorised(self, headers: Any, params: dict[str, str]) -> bool:
        """Whether a request carries the credentials of :attr:`auth`."""
        if self.auth == "bearer":
            return headers.get("Authorization") == f"Bearer {TOKEN}"
        if self.auth == "basic":
            expected = base64.b64encode(f"{USERNAME}:{TOKEN}".encode()).decode()
            return headers.get("Authorization") == f"Basic {expected}"
        if self.auth == "api_key_header":
            return headers.get("X-API-Key") == TOKEN
        return params.get("api_key") == TOKEN


def timestamp(day: int, hour: int = 0) -> str:
    """``2024-01-<day>T<hour>:00:00Z``."""
    return f"2024-01-{day:02d}T{hour:02d}:00:00Z"


def _since(records: list[dict[str, Any]], value: str | None) -> list[dict[str, Any]]:
    if value is None:
        return records
    bound = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return [r for r in records if dt.datetime.fromisoformat(r["updated_at"].replace("Z", "+00:00")) >= bound]


def _size(params: dict[str, str], name: str) -> int:
    return min(int(params.get(name, MAX_PAGE_SIZE)), MAX_PAGE_SIZE)


def _page(api: FakeApi, path: str, route: Route, params: dict[str, str]) -> tuple[Any, dict[str, str]]:
    """The body and extra headers of one page of ``route``."""
    rows = _since(sorted(api.records.get(route.collection, []), key=lambda r: r["id"]), params.get(route.since_param))
    if route.style == "page_number":
        size, page = _size(params, "per_page"), int(params.get("page", "1"))
        total_pages = max(1, -(-len(rows) // size))
        items = rows[(page - 1) * size : page * size]
        return {"data": {"items": items}, "meta": {"page": page, "total_pages": total_pages}}, {}
    if route.style == "offset":
        offset, limit = int(params.get("offset", "0")), _size(params, "limit")
        return {"results": rows[offset : offset + limit], "total": len(rows)}, {}
    if route.style == "cursor":
        start = int(base64.b64decode(params["cursor"]).decode()) if "cursor" in params else 0
        end = start + MAX_PAGE_SIZE
        following = base64.b64encode(str(end).encode()).decode() if end < len(rows) else None
        return {"events": rows[start:end], "next_cursor": following}, {}
    if route.style == "link_header":
        size, page = _size(params, "per_page"), int(params.get("page", "1"))
        headers = {}
        if page * size < len(rows):
            query = urlencode({**params, "page": page + 1})
            headers["Link"] = f'<{api.base_url}{path}?{query}>; rel="next", <{api.base_url}{path}>; rel="first"'
        return rows[(page - 1) * size : page * size], headers
    if route.style == "next_url":
        after = int(params.get("after", "0"))
        chunk = rows[after : after + MAX_PAGE_SIZE]
        following = (
            f"{path}?{urlencode({**params, 'after': after + len(chunk)})}" if after + len(chunk) < len(rows) else None
        )
        return {"items": chunk, "links": {"next": following}}, {}
    return {"results": rows}, {}


def _handler(api: FakeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self._serve("GET")

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length", "0"))
            self.rfile.read(length)
            self._serve("POST")

        def _serve(self, method: str) -> None:
            url = urlsplit(self.path)
            params = {key: values[-1] for key, values in parse_qs(url.query).items()}
            fault = api._record_request(method, url.path, params)
            if fault is not None and fault.delay:
                time.sleep(fault.delay)
            if fault is not None and fault.status:
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                self._reply(fault.status, {"message": "deliberate failure"}, headers)
                return
            if not api.authorised(self.headers, params):
                self._reply(401, {"message": "Bad credentials"})
                return
            route = api.routes.get(url.path)
            if route is None or route.method != method:
                self._reply(404, {"message": "Not Found"})
                return
            if url.path in api.forbidden:
                self._reply(403, {"message": "Resource not accessible by this token"})
                return
            body, headers = _page(api, url.path, route, params)
            self._reply(200, body, headers)

        def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep pytest output clean
            return

    return Handler


@contextmanager
def serve(api: FakeApi) -> Iterator[FakeApi]:
    """Serve ``api`` on a free loopback port in a background thread until the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    server.daemon_threads = True
    api.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="fake-rest-api", daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
