"""What ``python -m ingest --source postgres-cdc`` costs: a snapshot, then a batch of changes.

Creates a table of ``--rows`` rows (id, name, amount numeric(12,2), changed_at timestamptz) in a
throwaway schema of the local PostgreSQL, then times, each in its own worker process exactly as
Orchestra runs it (``python -m ingest`` in ``python/``, into a fresh DuckDB file):

  snapshot    the first run: slot and publication created, the table read in the exported snapshot
  changes     ``--changes`` set-based changes in 10 transactions (half updates, a quarter deletes, a
              quarter inserts) applied from the slot
  idle        a run with nothing new (the fixed cost of a scheduled CDC task)

and checks the destination against the source after the changes: live row count and exact
``sum(amount)``. Needs ``wal_level = logical`` (``.ci/run`` sets it).

    .venv/bin/python benchmarks/ingest_cdc.py                    # 1,000,000 rows, 100,000 changes
    .venv/bin/python benchmarks/ingest_cdc.py --rows 100000 --changes 10000 --output /tmp/cdc.md
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]


def _worker(args: list[str], env: dict[str, str]) -> tuple[float, dict[str, object]]:
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "ingest", *args, "--quiet"], cwd=REPO / "python",
                         env={**os.environ, **env}, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if run.returncode != 0:
        sys.exit(f"worker failed: {run.stderr[-2000:]}")
    return seconds, json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    """Build the table, time the three runs, check the result, write the report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--changes", type=int, default=100_000)
    parser.add_argument("--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "ingest_cdc.md")
    args = parser.parse_args()
    engine = sa.create_engine(args.postgres_url, poolclass=sa.NullPool)
    schema = f"cdc_bench_{uuid.uuid4().hex[:8]}"
    slot = f"{schema}_slot"
    rows, quarter = args.rows, args.changes // 4
    with engine.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
        connection.exec_driver_sql(f"CREATE TABLE {schema}.items (id bigint PRIMARY KEY, name text, "
                                   "amount numeric(12, 2), changed_at timestamptz)")
        connection.exec_driver_sql(f"INSERT INTO {schema}.items SELECT i, 'item ' || i, mod(i, 100000) / 100.0, "
                                   f"now() - i * interval '1 second' FROM generate_series(1, {rows}) i")
    with tempfile.TemporaryDirectory() as folder:
        env = {"SOURCE_DATABASE_URL": args.postgres_url, "WAREHOUSE_DUCKDB_PATH": str(Path(folder) / "w.duckdb")}
        worker = ["--source", "postgres-cdc", "--schema", schema, "--table", "items", "--slot", slot]
        try:
            snapshot, snapshot_summary = _worker(worker, env)
            began = time.perf_counter()
            step = max(1, quarter // 5)
            for first in range(0, 2 * quarter, 2 * step):  # 5 transactions of updates
                with engine.begin() as connection:
                    connection.exec_driver_sql(f"UPDATE {schema}.items SET amount = amount + 1, name = name || '+' "
                                               f"WHERE id > {first} AND id <= {first + 2 * step}")
            for first in range(0, quarter, step):  # 5 of deletes and inserts
                with engine.begin() as connection:
                    connection.exec_driver_sql(f"DELETE FROM {schema}.items WHERE id > {rows - first - step} "
                                               f"AND id <= {rows - first}")
                    connection.exec_driver_sql(f"INSERT INTO {schema}.items SELECT {rows} + i, 'new ' || i, 1.25, now() "
                                               f"FROM generate_series({first + 1}, {first + step}) i")
            made = time.perf_counter() - began
            changes, changes_summary = _worker(worker, env)
            idle, idle_summary = _worker(worker, env)
            with engine.connect() as connection:
                source = connection.exec_driver_sql(f"SELECT count(*), sum(amount) FROM {schema}.items").one()
            with duckdb.connect(env["WAREHOUSE_DUCKDB_PATH"], read_only=True) as connection:
                target = connection.execute("SELECT count(*), sum(amount) FROM raw.items "
                                            "WHERE _deleted_at IS NULL").fetchone()
        finally:
            with engine.begin() as connection:
                connection.exec_driver_sql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                                           f"WHERE slot_name = '{slot}'")
                connection.exec_driver_sql(f"DROP PUBLICATION IF EXISTS {slot}")
                connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    exact = tuple(source) == tuple(target)
    lines = [
        "# PostgreSQL CDC (`--source postgres-cdc`) into DuckDB", "",
        f"`benchmarks/ingest_cdc.py --rows {rows} --changes {args.changes}`, {datetime.now(UTC):%Y-%m-%d}, "
        "local PostgreSQL 15, one worker process per run (start-up included).", "",
        "| run | seconds | read | written | deleted | per second |", "|---|---:|---:|---:|---:|---:|",
        f"| snapshot | {snapshot:.2f} | {snapshot_summary['rows_read']:,} rows | {snapshot_summary['rows_written']:,} "
        f"| {snapshot_summary['rows_deleted']:,} | {snapshot_summary['rows_read'] / snapshot:,.0f} rows |",
        f"| changes ({made:.1f} s to make them) | {changes:.2f} | {changes_summary['rows_read']:,} changes "
        f"| {changes_summary['rows_written']:,} | {changes_summary['rows_deleted']:,} "
        f"| {changes_summary['rows_read'] / changes:,.0f} changes |",
        f"| idle (nothing new) | {idle:.2f} | {idle_summary['rows_read']:,} | {idle_summary['rows_written']:,} "
        f"| {idle_summary['rows_deleted']:,} | |", "",
        f"After the changes: source {source[0]:,} rows, sum(amount) {source[1]}; destination live rows "
        f"{target[0]:,}, sum(amount) {target[1]}: {'exact' if exact else 'DIFFERENT'}.", "",
    ]
    args.output.write_text("\n".join(lines))
    print("\n".join(lines))
    if not exact:
        sys.exit(1)


if __name__ == "__main__":
    main()
