"""The test server: a FastAPI app on a free loopback port, served over TLS by uvicorn in a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI, Request, Response

from .api import data_router, error
from .faults import FaultPlan
from .login import login_router
from .state import OrgCredentials, ServerState
from .store import RecordStore
from .tls import Certificate

_START_TIMEOUT_SECONDS = 10.0


def create_app(state: ServerState) -> FastAPI:
    """The app: login routes, data routes, and a middleware that injects faults, checks the bearer
    token of data requests and logs every answer."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.include_router(login_router(state))
    app.include_router(data_router(state))

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        path = request.url.path
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        fault = state.faults.match(request.method, path)
        if fault is not None:
            response: Response = error(fault.status, fault.code, fault.message())
            if fault.retry_after is not None:
                response.headers["Retry-After"] = fault.retry_after
            if fault.expire_session:
                with state.lock:
                    state.sessions.discard(token)
        elif path.startswith("/services/data/") and token not in state.sessions:
            response = error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        else:
            response = await call_next(request)
        state.faults.record(request.method, path, request.url.query, response.status_code)
        return response

    return app


@dataclass
class SalesforceTestServer:
    """A running test server.

    Attributes:
        url: ``https://127.0.0.1:<port>``: the login URL and the instance URL.
        state: Records, faults, credentials, sessions (change them from the test).
        certificate: The server's certificate; clients trust it via ``REQUESTS_CA_BUNDLE``.
    """

    url: str
    state: ServerState
    certificate: Certificate
    _server: uvicorn.Server
    _thread: threading.Thread

    @property
    def store(self) -> RecordStore:
        """The org's records."""
        return self.state.store

    @property
    def faults(self) -> FaultPlan:
        """Fault injection and the request log."""
        return self.state.faults

    def env(self, prefix: str = "SALESFORCE_") -> dict[str, str]:
        """Environment for a worker that logs in with the password flow."""
        credentials = self.state.credentials
        return {
            f"{prefix}USERNAME": credentials.username,
            f"{prefix}PASSWORD": credentials.password,
            f"{prefix}SECURITY_TOKEN": credentials.security_token,
            f"{prefix}LOGIN_URL": self.url,
            "REQUESTS_CA_BUNDLE": str(self.certificate.cert_file),
            "NO_PROXY": "127.0.0.1,localhost",
        }

    def secrets(self) -> list[str]:
        """Every secret value the org knows (credentials and issued session ids)."""
        credentials = self.state.credentials
        with self.state.lock:
            issued = sorted(self.state.sessions)
        return [credentials.password, credentials.security_token, credentials.consumer_secret, *issued]

    def reject_field(self, object_name: str, field: str) -> None:
        """Make queries refuse a field the describe still lists (``INVALID_FIELD``)."""
        self.state.rejected_fields.add((object_name, field))

    def stop(self) -> None:
        """Shut the server down and wait for its thread."""
        self._server.should_exit = True
        self._thread.join(timeout=_START_TIMEOUT_SECONDS)


def start_server(
    certificate: Certificate,
    rows: Mapping[str, int] | None = None,
    credentials: OrgCredentials | None = None,
    bulk_polls: int = 1,
) -> SalesforceTestServer:
    """Seed an org and serve it on a free port of 127.0.0.1.

    Args:
        certificate: TLS certificate for 127.0.0.1 (see :func:`salesforce_server.tls.loopback_certificate`).
        rows: Records per object (default: 1,000 Accounts, 2,500 Contacts, 1,500 Opportunities).
        credentials: What logins must present (default: :class:`OrgCredentials`).
        bulk_polls: Status checks of each Bulk job that answer ``InProgress`` before it completes.

    Returns:
        The running server; call :meth:`SalesforceTestServer.stop` when done.

    Raises:
        RuntimeError: If the server did not start within 10 seconds.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    url = f"https://127.0.0.1:{listener.getsockname()[1]}"
    state = ServerState(url, credentials or OrgCredentials(), RecordStore(rows), bulk_polls=bulk_polls)
    config = uvicorn.Config(
        create_app(state), ssl_certfile=str(certificate.cert_file), ssl_keyfile=str(certificate.key_file),
        log_level="warning", lifespan="off", access_log=False,
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listener]}, name="salesforce-test-server", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + _START_TIMEOUT_SECONDS
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError("the Salesforce test server did not start")
        time.sleep(0.01)
    return SalesforceTestServer(url, state, certificate, server, thread)
