"""The task webhook Orchestra's SDK reports to, served on loopback during a run.

The unmodified ``orchestra-sdk`` (``OrchestraSDK(api_key=...).set_output(...)``, ``update_task``)
POSTs ``{"event_type", "task_run_id", "metadata", ...}`` with ``Authorization: Bearer <api key>``
to ``ORCHESTRA_WEBHOOK_URL`` (orchestra-contract section 4). Each run starts one receiver on
127.0.0.1 (random free port) with its own random token, handed to tasks as
``ORCHESTRA_WEBHOOK_URL`` and ``ORCHESTRA_API_KEY``. Events:

- ``SET_OUTPUT`` (``output_name``, ``output_value``): kept when the task runs with
  ``set_outputs: true``; ignored otherwise, as Orchestra does. Names: letters, digits, ``_``, ``-``.
- ``UPDATE_STATUS`` (``status``, ``message``): recorded as the task run's external status/message.
- ``LOG`` (``log_name``, ``data``): written as a log file of the attempt.

A wrong or missing token answers 401; an unknown or finished task run 404; a malformed event 422.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
import selectors
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

OUTPUT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
MAX_BODY_BYTES = 10 * 1024 * 1024


@dataclass
class WebhookSession:
    """What one task attempt receives through the webhook.

    Attributes:
        task_run_id: The task run the events must name.
        set_outputs: Whether SET_OUTPUT events are kept.
        outputs: Outputs received (kept ones only).
        write_log: ``(log_name, text)`` -> None, to store a LOG event.
        update_status: ``(status, message)`` -> None, for UPDATE_STATUS.
    """

    task_run_id: str
    set_outputs: bool
    write_log: Callable[[str, str], None]
    update_status: Callable[[str, str | None], None]
    outputs: dict[str, Any] = field(default_factory=dict)
    ignored_outputs: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class WebhookReceiver:
    """A loopback HTTP server accepting SDK events for the task runs currently open.

    Use as a context manager; ``url`` and ``token`` are set while it runs.
    """

    def __init__(self) -> None:
        self.token = secrets.token_urlsafe(32)
        self._sessions: dict[str, WebhookSession] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._wake_read, self._wake_write = socket.socketpair()  # __exit__ wakes the serving thread

    @property
    def url(self) -> str:
        """The URL tasks post to (``ORCHESTRA_WEBHOOK_URL``)."""
        assert self._server is not None, "the receiver is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/webhook"

    def __enter__(self) -> WebhookReceiver:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._server.timeout = 0  # handle_request() below only runs once a connection is waiting
        self._thread = threading.Thread(target=self._serve, name="orchestra-webhook", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None and self._thread is not None:
            self._wake_write.send(b"x")
            self._thread.join()
            self._server.server_close()
            self._wake_read.close()
            self._wake_write.close()

    def _serve(self) -> None:
        """Accept connections until ``__exit__`` writes to the wake socket.

        Not ``serve_forever``: it polls (a wake-up of every run's process every ``poll_interval``,
        and ``shutdown()`` waits for the next poll, ~10 ms at the end of every run); this sleeps
        until a connection or the wake-up arrives.
        """
        assert self._server is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._server, selectors.EVENT_READ)
            selector.register(self._wake_read, selectors.EVENT_READ)
            while True:
                ready = {key.fileobj for key, _ in selector.select()}
                if self._wake_read in ready:
                    return
                self._server.handle_request()

    @contextmanager
    def session(
        self, task_run_id: str, *, set_outputs: bool, write_log: Callable[[str, str], None],
        update_status: Callable[[str, str | None], None],
    ) -> Iterator[WebhookSession]:
        """Accept events for ``task_run_id`` while the block runs."""
        session = WebhookSession(task_run_id, set_outputs, write_log, update_status)
        with self._lock:
            self._sessions[task_run_id] = session
        try:
            yield session
        finally:
            with self._lock:
                self._sessions.pop(task_run_id, None)

    def authorised(self, header: str | None) -> bool:
        """Constant-time check of ``Authorization: Bearer <token>``."""
        expected = f"Bearer {self.token}"
        return header is not None and hmac.compare_digest(header.encode(), expected.encode())

    def handle(self, event: dict[str, Any]) -> tuple[HTTPStatus, dict[str, Any]]:
        """Apply one event; returns the HTTP status and JSON body to answer."""
        task_run_id = str(event.get("task_run_id", ""))
        with self._lock:
            session = self._sessions.get(task_run_id)
        if session is None:
            return HTTPStatus.NOT_FOUND, {"detail": f"task run {task_run_id!r} is not running in this pipeline run"}
        kind = event.get("event_type")
        if kind == "SET_OUTPUT":
            name = event.get("output_name")
            if not isinstance(name, str) or not OUTPUT_NAME.match(name):
                return HTTPStatus.UNPROCESSABLE_ENTITY, {
                    "detail": "output_name must be 1-200 letters, digits, '_' or '-'"}
            with session.lock:
                if session.set_outputs:
                    session.outputs[name] = event.get("output_value")
                else:
                    session.ignored_outputs += 1
            return HTTPStatus.OK, {"message": "Output set" if session.set_outputs else "Outputs are not enabled"}
        if kind == "UPDATE_STATUS":
            status = event.get("status")
            if not isinstance(status, str):
                return HTTPStatus.UNPROCESSABLE_ENTITY, {"detail": "status must be a string"}
            message = event.get("message")
            session.update_status(status, message if isinstance(message, str) else None)
            return HTTPStatus.OK, {"message": "Status updated"}
        if kind == "LOG":
            name, data = event.get("log_name"), event.get("data")
            if not isinstance(name, str) or not isinstance(data, str):
                return HTTPStatus.UNPROCESSABLE_ENTITY, {"detail": "log_name and data must be strings"}
            session.write_log(Path(name).name or "sdk.log", data)
            return HTTPStatus.OK, {"message": "Log received"}
        return HTTPStatus.UNPROCESSABLE_ENTITY, {"detail": f"unknown event_type {kind!r}"}


def _handler_for(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            """Silence the default access log (it would print to the runner's terminal)."""

        def _answer(self, status: HTTPStatus, body: dict[str, Any]) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self) -> None:  # noqa: N802 - stdlib naming
            if not receiver.authorised(self.headers.get("Authorization")):
                self._answer(HTTPStatus.UNAUTHORIZED, {"detail": "Invalid or missing API key"})
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if length < 0:
                self._answer(HTTPStatus.BAD_REQUEST, {"detail": "Content-Length must be a non-negative integer"})
                return
            if length > MAX_BODY_BYTES:
                self._answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"detail": "body too large"})
                return
            try:
                event = json.loads(self.rfile.read(length) or b"null")
            except json.JSONDecodeError:
                self._answer(HTTPStatus.UNPROCESSABLE_ENTITY, {"detail": "body is not JSON"})
                return
            if not isinstance(event, dict):
                self._answer(HTTPStatus.UNPROCESSABLE_ENTITY, {"detail": "body must be a JSON object"})
                return
            self._answer(*receiver.handle(event))

    return Handler
