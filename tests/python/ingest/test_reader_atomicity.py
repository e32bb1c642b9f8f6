"""A worker SIGKILLed after applying everything but before its COMMIT, through each reader of the sql
source, from SQLite into DuckDB and from PostgreSQL into PostgreSQL: the destination is unchanged.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from ingest.destinations.base import PAUSE_BEFORE_COMMIT_ENV, PAUSE_MESSAGE

from tests.python.ingest.reader_loads import ATOMICITY_PAIRS, ORDERS, PYTHON_DIR, READERS, ingest

if TYPE_CHECKING:
    from conftest import Destination, SourceDatabase


@ATOMICITY_PAIRS
@pytest.mark.parametrize("reader", READERS)
def test_sigkill_before_commit_leaves_the_destination_unchanged(
    source_db: SourceDatabase, destination: Destination, reader: str
) -> None:
    ingest(source_db, destination, reader, "--table", "orders")
    before = destination.rows("SELECT o_orderkey, o_comment FROM {schema}.orders ORDER BY 1")
    source_db.execute(f"UPDATE {source_db.table('orders')} SET o_comment = 'lost'")
    process = subprocess.Popen(
        [sys.executable, "-m", "ingest", *source_db.worker_args(), "--reader", reader, *destination.args,
         "--table", "orders"],
        cwd=PYTHON_DIR, env={**os.environ, **source_db.worker_env(), **destination.env, PAUSE_BEFORE_COMMIT_ENV: "60"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        paused = any(PAUSE_MESSAGE in line for line in process.stderr)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert paused, "the worker ended without pausing before its commit"
    assert process.returncode == -signal.SIGKILL

    assert destination.rows("SELECT o_orderkey, o_comment FROM {schema}.orders ORDER BY 1") == before
    rerun = ingest(source_db, destination, reader, "--table", "orders")
    assert rerun["rows_written"] == ORDERS
    assert destination.rows("SELECT count(*) FROM {schema}.orders WHERE o_comment = 'lost'") == [(ORDERS,)]
