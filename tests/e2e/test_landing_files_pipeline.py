"""orchestra/landing_files_to_warehouse.yml end to end: ack sensor -> dlt filesystem load -> archive -> dbt.

Real runs of the shipped YAML with the real CLI: two days of files land one after the other and
each run loads exactly its day; a runner SIGKILLed between a table's load and its archive step is
run again to the same warehouse contents (no duplicate rows); a re-run after the day was archived
finds no ack, soft-fails the sensor, skips the load and SUCCEEDS.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from tests.e2e.landing_files import LandedDay, land_day

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
PIPELINE = "orchestra/landing_files_to_warehouse.yml"


class Landing:
    """The datasets root, the warehouse and the runs of one test."""

    def __init__(self, tmp_path: Path, cli: Callable[..., subprocess.CompletedProcess[str]], cli_path: str) -> None:
        self.root = tmp_path / "datasets"
        self.cli = cli
        self.cli_path = cli_path
        self.metadata = Path(os.environ["ORCHESTRA_LOCAL_HOME"]) / "metadata.db"

    def args(self, ds: str, *extra: str) -> list[str]:
        return ["run", PIPELINE, "--input", f"ds={ds}", "--input", f"datasets_root={self.root}", *extra]

    def run(self, ds: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return self.cli(*self.args(ds, *extra), cwd=REPO_ROOT)

    def warehouse(self, sql: str) -> list[tuple]:
        with duckdb.connect(os.environ["WAREHOUSE_DUCKDB_PATH"], read_only=True) as connection:
            return connection.sql(sql).fetchall()

    def pending(self, ds: str) -> list[str]:
        folder = self.root / "pending" / "sales" / ds
        return sorted(path.name for path in folder.iterdir()) if folder.exists() else []

    def archived(self, ds: str) -> list[str]:
        return sorted(path.name for path in (self.root / "archive" / "sales" / ds).iterdir())

    def counts(self) -> tuple[int, int, int, int]:
        """Rows of raw_landing.orders and .lineitem, and their distinct keys."""
        ((orders, order_keys),) = self.warehouse("select count(*), count(distinct o_orderkey) from raw_landing.orders")
        ((lines, line_keys),) = self.warehouse(
            "select count(*), count(distinct (l_orderkey, l_linenumber)) from raw_landing.lineitem")
        return orders, order_keys, lines, line_keys

    def run_killed_after_the_orders_load(self, ds: str) -> None:
        """Start a run; SIGKILL the runner as soon as the orders load SUCCEEDED, before its archive step."""
        earlier = self._query("select id from pipeline_runs")
        runner = subprocess.Popen([self.cli_path, *self.args(ds), "--no-progress"], cwd=REPO_ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        try:
            while not self._orders_loaded(exclude={run_id for (run_id,) in earlier}):
                assert runner.poll() is None, "the run ended before the orders load succeeded"
                assert time.monotonic() < deadline, "the orders load did not succeed within 120 s"
                time.sleep(0.02)
        finally:
            runner.kill()
            runner.wait(timeout=30)

    def _orders_loaded(self, exclude: set[str]) -> bool:
        """Whether a run not in ``exclude`` has its orders load SUCCEEDED."""
        rows = self._query("select pipeline_run_id from task_runs where task_id = 'load_files' "
                           "and status = 'SUCCEEDED' and run_parameters like '%orders-*.csv%'")
        return any(run_id not in exclude for (run_id,) in rows)

    def statuses(self, run_id: str) -> dict[str, set[str]]:
        """Task id -> the statuses of its task runs (matrix iterations and their parent) in a run."""
        found: dict[str, set[str]] = {}
        for task_id, status in self._query("select task_id, status from task_runs where pipeline_run_id = ?", run_id):
            found.setdefault(task_id, set()).add(status)
        return found

    def _query(self, sql: str, *parameters: str) -> list[tuple]:
        with sqlite3.connect(f"file:{self.metadata}?mode=ro", uri=True, timeout=5) as connection:
            return connection.execute(sql, parameters).fetchall()


def test_two_days_load_exactly_once_through_a_crash_and_a_rerun(tmp_path: Path, cli, cli_path: str) -> None:
    landing = Landing(tmp_path, cli, cli_path)
    day1: LandedDay = land_day(landing.root, 1)

    first = landing.run(day1.ds)
    assert first.returncode == 0, first.stdout + first.stderr
    assert landing.counts() == (day1.orders, day1.orders, day1.lines, day1.lines)
    assert landing.pending(day1.ds) == [] and landing.archived(day1.ds) == sorted(p.name for p in day1.files)
    assert (landing.root / "archive" / "sales" / f"{day1.ds}.ack").exists()
    assert landing.warehouse("select order_date::varchar, order_count, line_count from analytics.fct_landed_sales_daily"
                             ) == [(day1.ds, day1.orders, day1.lines)]

    day2 = land_day(landing.root, 2)
    landing.run_killed_after_the_orders_load(day2.ds)
    # the crash window: orders are in the warehouse, their files still pending
    assert "orders-0001.csv" in landing.pending(day2.ds), "the archive step ran before the kill; nothing was tested"
    assert landing.counts()[:2] == (day1.orders + day2.orders,) * 2

    rerun = landing.run(day2.ds)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    total_orders, total_lines = day1.orders + day2.orders, day1.lines + day2.lines
    assert landing.counts() == (total_orders, total_orders, total_lines, total_lines)
    assert landing.pending(day2.ds) == [] and landing.archived(day2.ds) == sorted(p.name for p in day2.files)
    assert landing.warehouse("select order_date::varchar, order_count from analytics.fct_landed_sales_daily "
                             "order by 1") == [(day1.ds, day1.orders), (day2.ds, day2.orders)]

    # the day is archived: no ack, the sensor soft-fails, nothing loads, the run succeeds
    again = landing.run(day2.ds, "--input", "ack_timeout_seconds=1")
    (run_id,) = re.findall(r"^pipeline run (\S+) of ", again.stdout, flags=re.MULTILINE)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"pipeline run {run_id} SUCCEEDED" in again.stdout
    statuses = landing.statuses(run_id)
    assert statuses.pop("wait_for_sales") == {"SUCCEEDED"}
    assert statuses == {task: {"SKIPPED"} for task in ("load_files", "archive_files", "dbt_build", "archive_ack")}
    assert landing.counts() == (total_orders, total_orders, total_lines, total_lines)
