"""Faults the test server can inject, and the log of what it served.

A fault matches requests by method and a path fragment (``/query``, ``/results``, ...). It lets
``skip`` matching requests through, then answers the next ``times`` ones itself: an HTTP error
with Salesforce's error body (and ``Retry-After`` when given), or an expired session
(``INVALID_SESSION_ID``, after which the session is revoked).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class Fault:
    """One injected fault.

    Attributes:
        path: Fragment of the request path that selects the requests, e.g. ``/query``.
        status: HTTP status to answer (401 for an expired session).
        code: Salesforce errorCode of the body, e.g. ``REQUEST_LIMIT_EXCEEDED``.
        times: How many matching requests to answer with the fault.
        skip: How many matching requests to let through first.
        retry_after: Value of the ``Retry-After`` header, if any.
        method: HTTP method to match, or None for any.
        expire_session: Revoke the caller's session (for ``INVALID_SESSION_ID``).
    """

    path: str
    status: int
    code: str
    times: int = 1
    skip: int = 0
    retry_after: str | None = None
    method: str | None = None
    expire_session: bool = False

    def message(self) -> str:
        """Salesforce's wording for the fault."""
        return {
            "INVALID_SESSION_ID": "Session expired or invalid",
            "REQUEST_LIMIT_EXCEEDED": "ConcurrentPerOrgLongTxn Limit exceeded.",
            "SERVER_UNAVAILABLE": "Server temporarily unavailable, please retry",
        }.get(self.code, f"{self.code} injected by the test server")


@dataclass(frozen=True)
class Served:
    """One request the server answered."""

    method: str
    path: str
    query: str
    status: int
    at: float  # time.monotonic() when answered


@dataclass
class FaultPlan:
    """Faults to inject and requests served; shared by the server's threads and the test."""

    faults: list[Fault] = field(default_factory=list)
    served: list[Served] = field(default_factory=list)
    page_delay_seconds: float = 0.0  # sleep before each query page / result page
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, fault: Fault) -> Fault:
        """Inject a fault (checked after those added before it)."""
        with self._lock:
            self.faults.append(fault)
        return fault

    def fail(self, path: str, status: int, code: str | None = None, **options: object) -> Fault:
        """Answer matching requests with an HTTP error (see :class:`Fault` for ``options``)."""
        default = {429: "REQUEST_LIMIT_EXCEEDED", 401: "INVALID_SESSION_ID"}.get(status, "SERVER_UNAVAILABLE")
        return self.add(Fault(path, status, code or default, **options))  # type: ignore[arg-type]

    def expire_session(self, path: str, skip: int = 0) -> Fault:
        """Reject the caller's session once (HTTP 401 ``INVALID_SESSION_ID``) and revoke it."""
        return self.add(Fault(path, 401, "INVALID_SESSION_ID", skip=skip, expire_session=True))

    def match(self, method: str, path: str) -> Fault | None:
        """The fault that answers this request, if any (consumes one of its ``times``)."""
        with self._lock:
            for fault in self.faults:
                if fault.path not in path or (fault.method and fault.method != method) or fault.times <= 0:
                    continue
                if fault.skip > 0:
                    fault.skip -= 1
                    continue
                fault.times -= 1
                return fault
        return None

    def record(self, method: str, path: str, query: str, status: int) -> None:
        """Log an answered request."""
        with self._lock:
            self.served.append(Served(method, path, query, status, time.monotonic()))

    def requests(self, fragment: str = "", status: int | None = None) -> list[Served]:
        """Served requests whose path contains ``fragment`` (and with ``status``, if given)."""
        with self._lock:
            return [s for s in self.served if fragment in s.path and (status is None or s.status == status)]
