"""Run metadata: pipeline runs, task runs, outputs, log/artifact files and operations (SQLAlchemy 2)."""

from orchestra_local.store.repository import LOCAL_ACCOUNT_ID, RunStore, new_id, utcnow

__all__ = ["LOCAL_ACCOUNT_ID", "RunStore", "new_id", "utcnow"]
