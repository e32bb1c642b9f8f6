"""Everything the test server holds: the org's credentials, sessions, records, cursors and jobs."""

from __future__ import annotations

import itertools
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from .faults import FaultPlan
from .store import RecordStore

ORG_ID = "00D000000000001EAA"
USER_ID = "005000000000001AAA"


@dataclass(frozen=True)
class OrgCredentials:
    """The credentials the test org accepts (fake values; tests grep output for them)."""

    username: str = "integration@example.com"
    password: str = "Pa55word-7f3c91"  # noqa: S105 - a test fixture
    security_token: str = "Tok3nZ8q2mXv"  # noqa: S105
    consumer_key: str = "3MVG9-test-consumer-key"
    consumer_secret: str = "consumer-s3cret-5d2e"  # noqa: S105
    jwt_public_key: bytes | None = None  # PEM; enables the JWT bearer flow


@dataclass
class QueryCursor:
    """A REST query's result, paged by ``nextRecordsUrl``."""

    table: pa.Table
    page_size: int
    include_deleted: bool
    object_name: str


@dataclass
class BulkJob:
    """A Bulk API 2.0 query job; ``polls_left`` status checks answer ``InProgress`` first."""

    id: str
    operation: str
    object_name: str
    result: pa.Table
    polls_left: int
    state: str = "UploadComplete"

    def info(self, api_version: str) -> dict[str, Any]:
        """The job as ``GET jobs/query/<id>`` describes it."""
        return {
            "id": self.id, "operation": self.operation, "object": self.object_name, "createdById": USER_ID,
            "createdDate": "2024-01-01T00:00:00.000+0000", "systemModstamp": "2024-01-01T00:00:00.000+0000",
            "state": self.state, "concurrencyMode": "Parallel", "contentType": "CSV", "apiVersion": float(api_version),
            "lineEnding": "LF", "columnDelimiter": "COMMA",
            "numberRecordsProcessed": self.result.num_rows if self.state == "JobComplete" else 0,
        }  # fmt: skip


@dataclass
class ServerState:
    """Shared by the request handlers (threads) and the test.

    Attributes:
        base_url: ``https://127.0.0.1:<port>``, filled in when the server starts.
        credentials: What logins must present.
        store: The records.
        faults: Injected faults and the request log.
        rejected_fields: ``(object, field)`` pairs queries refuse with ``INVALID_FIELD``.
        bulk_polls: Status checks of a new job that answer ``InProgress``.
        logins: Successful logins so far.
    """

    base_url: str
    credentials: OrgCredentials
    store: RecordStore
    faults: FaultPlan = field(default_factory=FaultPlan)
    rejected_fields: set[tuple[str, str]] = field(default_factory=set)
    bulk_polls: int = 1
    logins: int = 0
    sessions: set[str] = field(default_factory=set)
    cursors: dict[str, QueryCursor] = field(default_factory=dict)
    jobs: dict[str, BulkJob] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    def new_session(self) -> str:
        """Issue a session id (counts as a login)."""
        session_id = f"{ORG_ID}!{secrets.token_urlsafe(32)}"
        with self.lock:
            self.sessions.add(session_id)
            self.logins += 1
        return session_id

    def number(self) -> int:
        """A fresh number for cursor and job ids."""
        with self.lock:
            return next(self._numbers)
