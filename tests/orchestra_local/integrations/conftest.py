"""A real HTTP server on a free loopback port, standing in for APIs and chat webhooks."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass(frozen=True)
class Received:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    """How the server answers a path: status, body, content type and a delay in seconds."""

    status: int = 200
    body: str = '{"ok": true}'
    content_type: str = "application/json"
    delay: float = 0.0


@dataclass
class FakeService:
    """Records every request and answers from ``replies`` (by path without query; default 200 JSON)."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    replies: dict[str, Reply] = field(default_factory=dict)

    def reply(self, path: str, status: int = 200, body: str = '{"ok": true}', *,
              content_type: str = "application/json", delay: float = 0.0) -> None:
        self.replies[path] = Reply(status, body, content_type, delay)


def _handler(service: FakeService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            service.received.append(Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                                             body))
            reply = service.replies.get(self.path.split("?", 1)[0], Reply())
            if reply.delay:
                time.sleep(reply.delay)
            payload = reply.body.encode()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client stopped waiting (timeout tests): no one to answer

        do_GET = do_POST = do_PUT = _answer

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler's name
            """Keep the test output quiet (the requests are recorded instead)."""

    return Handler


@pytest.fixture
def service() -> Iterator[FakeService]:
    """A recording HTTP server at ``service.url`` (http://127.0.0.1:<free port>)."""
    fake = FakeService()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()
    thread.join()
