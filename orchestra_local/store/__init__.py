"""Run metadata: pipeline runs, task runs, outputs, log/artifact files and operations (SQLAlchemy 2).

``RunStore`` is imported on first use (PEP 562 ``__getattr__``): SQLAlchemy's ORM costs about
0.3 s to import, and modules that only need a timestamp or an id (the integrations, which
``validate`` imports for their parameter models) should not pay for it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

LOCAL_ACCOUNT_ID = str(uuid.UUID(int=0))
"""``accountId`` of every local record: there is one (local) account."""

if TYPE_CHECKING:
    from orchestra_local.store.repository import RunStore


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def new_id() -> str:
    """A new record id (uuid4, as Orchestra's ids)."""
    return str(uuid.uuid4())


def __getattr__(name: str) -> Any:
    if name == "RunStore":
        from orchestra_local.store.repository import RunStore

        return RunStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["LOCAL_ACCOUNT_ID", "RunStore", "new_id", "utcnow"]
