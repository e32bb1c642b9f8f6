"""Waiting on the PostgreSQL server for a worker's backend: blocked on a lock, or gone after a kill."""

from __future__ import annotations

import time

import sqlalchemy as sa


def wait_for_blocked_backend(engine: sa.Engine, schema: str, timeout: float) -> int:
    """The pid of the worker's backend once it waits for a lock on a table of ``schema``.

    Each poll uses a new transaction: pg_stat_activity is a snapshot per transaction.
    """
    deadline = time.monotonic() + timeout
    query = sa.text(
        "SELECT pid, query FROM pg_stat_activity WHERE application_name = 'ingest' "
        "AND wait_event_type = 'Lock' AND position(:schema in query) > 0"
    )
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            row = connection.execute(query, {"schema": schema}).first()
        if row is not None:
            # staged and copied; merging (the soft-delete column is ensured first)
            assert row.query.startswith(("UPDATE", "ALTER TABLE")), row.query
            return int(row.pid)
        time.sleep(0.05)
    raise AssertionError("the worker never reached its merge")


def wait_until_gone(engine: sa.Engine, pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    query = sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            if connection.execute(query, {"pid": pid}).scalar() == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"backend {pid} of the killed worker is still there")
