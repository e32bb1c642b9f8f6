"""ASGI middleware bounding what one request can cost the server before any route runs.

- :class:`BodyLimit`: a request body larger than the limit answers 413 ``{"detail": ...}``. A
  ``Content-Length`` over the limit is refused before a byte of the body is read; a body sent
  without one (chunked) is counted as it streams and refused at the first chunk past the limit,
  so the server never holds more than the limit (plus one chunk) of any body in memory.
- :class:`ErrorBoundary`: an unexpected exception answers 500 ``{"detail": "Internal server
  error"}`` (traceback to the server's log only) and the connection stays usable: the exception
  is not re-raised to the server, which would otherwise drop a keep-alive connection.
"""

from __future__ import annotations

import json
import logging
import traceback
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestra_local.masking import Masker

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
"""Largest request body accepted by default: 1 MiB (a large pipeline file is ~50 KiB)."""
logger = logging.getLogger("orchestra_local.api")


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes the limit (answered 413)."""

    def __init__(self, limit: int):
        super().__init__(status_code=413, detail=_too_large(limit))


def _too_large(limit: int) -> str:
    return (f"Request body too large: the limit is {limit} bytes "
            "(orchestra-local serve --max-body-bytes)")


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413, before reading them into memory.

    Args:
        app: The wrapped ASGI app.
        max_bytes: Largest body accepted, in bytes (>= 0).
    """

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _send_json(send, 400, {"detail": "Invalid Content-Length header"})
                return
            if int(declared) > self.max_bytes:
                await _send_json(send, 413, {"detail": _too_large(self.max_bytes)})
                return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge as exc:
            if started:
                raise
            await _send_json(send, 413, {"detail": exc.detail})


class ErrorBoundary:
    """Answer 500 for any exception a route lets escape, without re-raising it to the server.

    Args:
        app: The wrapped ASGI app (inside Starlette's ``ServerErrorMiddleware``).
        masker: Secrets to hide in the logged traceback (its values may quote a secret).
    """

    def __init__(self, app: ASGIApp, masker: Masker | None = None):
        self.app = app
        self.masker = masker or Masker()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:  # noqa: BLE001 - the boundary: logged with its traceback, answered 500
            if started:
                raise
            logger.error("unhandled error in %s %s\n%s", scope.get("method"), scope.get("path"),
                         self.masker.mask("".join(traceback.format_exception(exc))))
            await _send_json(send, 500, {"detail": "Internal server error"})
