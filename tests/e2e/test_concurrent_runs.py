"""Three runs of orchestra/tpch_elt.yml at once, on one state directory and one DuckDB warehouse.

Before pools, dbt_build failed in 11 of 15 such runs with "Could not set lock on file
.../warehouse.duckdb": the ingestion workers wait for DuckDB's lock, dbt does not. Now every run
must succeed, the dbt builds must never overlap, and the waits must show: a task run QUEUED with
"waiting for pool ... (held by run <id> task <t>)" while it waits, and its attempt's pool.log.
Once through three real CLI processes, once through one real ``serve`` process (three runs already
make the ingestion workers and dbt queue for the warehouse; five cost the suite another ~80 s).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from orchestra_local.store import RunStore

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
PIPELINE = REPO_ROOT / "orchestra" / "tpch_elt.yml"
RUNS = 3
SCALE_FACTOR = "0.01"  # the smallest at which the TPC-H generator gives unique partsupp keys
EXPECTED_ROWS = {"region": 5, "nation": 25, "supplier": 100, "customer": 1500, "part": 2000, "partsupp": 8000,
                 "orders": 15000, "lineitem": 60175}
TOKEN = "concurrent-runs-token-0123456789"
ENDED = ("SUCCEEDED", "WARNING", "FAILED", "SKIPPED", "CANCELLED")
SLACK = timedelta(seconds=1)
WAIT = re.compile(r"waiting for pool (\S+) \(held by run (\S+) task (\S+)")


@dataclass
class Observed:
    """What the test saw: task runs QUEUED with a pool wait (while running), and the runs' records."""

    queued_waits: set[str] = field(default_factory=set)
    runs: dict[str, str] = field(default_factory=dict)  # pipeline run id -> status
    task_runs: list[dict[str, Any]] = field(default_factory=list)
    pool_logs: dict[str, str] = field(default_factory=dict)  # task run id -> pool.log text

    def saw(self, status: str, message: str | None) -> None:
        if status == "QUEUED" and "waiting for pool" in (message or ""):
            self.queued_waits.add(message or "")


@pytest.fixture(scope="module")
def tpch_source(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('source') / 'tpch_source.sqlite'}"
    generated = subprocess.run([sys.executable, "-m", "tpch_source", "--scale-factor", SCALE_FACTOR],
                               cwd=REPO_ROOT / "python", env={**os.environ, "TPCH_SOURCE_URL": url},
                               capture_output=True, text=True, timeout=300)
    assert generated.returncode == 0, generated.stderr
    return url


def run_env(source: str) -> dict[str, str]:
    # Ingestion runs in the repository's environment: per-project virtualenvs built by several
    # processes at once would measure pip, not pools.
    return {**os.environ, "TPCH_SOURCE_URL": source, "ORCHESTRA_LOCAL_PYTHON_ISOLATION": "shared"}


def poll_until(done: Callable[[], bool], look: Callable[[], None], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"the runs did not end within {timeout}s"
        look()
        time.sleep(0.5)


def check(observed: Observed) -> None:
    """Every run SUCCEEDED with a complete warehouse; dbt builds never overlapped; waits were shown."""
    assert len(observed.runs) == RUNS and set(observed.runs.values()) == {"SUCCEEDED"}, observed.runs
    with duckdb.connect(os.environ["WAREHOUSE_DUCKDB_PATH"], read_only=True) as warehouse:
        for table, rows in EXPECTED_ROWS.items():
            assert warehouse.execute(f"select count(*) from raw.{table}").fetchone() == (rows,)
        assert warehouse.execute("select count(*) from analytics.fct_orders").fetchone() == (15000,)
    dbt = [t for t in observed.task_runs if t["task_id"] == "dbt_build"]
    assert len(dbt) == RUNS and {t["status"] for t in dbt} == {"SUCCEEDED"}
    builds = sorted((moment(t["started_at"]), moment(t["completed_at"])) for t in dbt)
    for (_, first_end), (second_start, _) in zip(builds, builds[1:], strict=False):
        # completed_at is written just after the pool is released, so the next may start a moment before it.
        assert second_start >= first_end - SLACK, f"two dbt builds wrote the warehouse at once: {builds}"
    # Waits: seen QUEUED with the reason while they lasted, and kept in the attempts' pool.log.
    assert observed.queued_waits, "no task run was ever seen QUEUED waiting for a pool"
    logged = [line for text in observed.pool_logs.values() for line in text.splitlines()]
    waits = [match.groups() for line in logged if (match := WAIT.search(line))]
    assert waits, f"no pool wait was logged: {logged}"
    warehouse_pool = f"duckdb:{os.path.realpath(os.environ['WAREHOUSE_DUCKDB_PATH'])}"
    target_pool = f"folder:{Path(os.environ['ORCHESTRA_LOCAL_HOME']).resolve() / 'dbt' / 'dbt' / 'target'}"
    # A dbt task takes the warehouse's pool first (name order), so that is what a waiting build names.
    assert warehouse_pool in {pool for pool, _, _ in waits} <= {warehouse_pool, target_pool}, waits
    assert all(run_id in observed.runs for _, run_id, _ in waits), waits  # held by one of these runs
    assert {t["id"] for t in dbt} & set(observed.pool_logs), "no dbt build waited for its turn"


def moment(value: datetime | str) -> datetime:
    """A store datetime or an API ISO 8601 string, as an aware datetime."""
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def test_three_cli_runs_at_once_all_succeed(tpch_source: str, cli_path: str) -> None:
    started = time.monotonic()
    processes = [subprocess.Popen([cli_path, "run", str(PIPELINE), "--no-progress"], env=run_env(tpch_source),
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for _ in range(RUNS)]
    outputs: list[str] = [""] * RUNS
    readers = [threading.Thread(target=lambda i=i: outputs.__setitem__(i, processes[i].stdout.read()))  # type: ignore[union-attr]
               for i in range(RUNS)]
    for reader in readers:
        reader.start()
    store = RunStore(f"sqlite:///{Path(os.environ['ORCHESTRA_LOCAL_HOME']) / 'metadata.db'}")
    observed = Observed()

    def look() -> None:
        for run in store.list_pipeline_runs():
            for record in store.list_task_runs(run["id"]):
                observed.saw(record["status"], record["message"])

    try:
        poll_until(lambda: all(p.poll() is not None for p in processes), look, timeout=900)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
        for reader in readers:
            reader.join(timeout=30)
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output
        assert "Traceback" not in output
    for run in store.list_pipeline_runs():
        observed.runs[run["id"]] = run["run_status"]
        for record in store.list_task_runs(run["id"]):
            observed.task_runs.append(record)
            for file in store.list_files(record["id"], "log"):
                if file["filename"].endswith("pool.log"):
                    observed.pool_logs[record["id"]] = Path(file["path"]).read_text()
    check(observed)
    print(f"{RUNS} CLI runs in {time.monotonic() - started:.0f}s; waits seen QUEUED: {len(observed.queued_waits)}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_three_api_runs_at_once_all_succeed(tpch_source: str, cli_path: str) -> None:
    port = free_port()
    server = subprocess.Popen(
        [cli_path, "serve", "--port", str(port), "--repo-root", str(REPO_ROOT), "--no-scheduler"],
        env={**run_env(tpch_source), "ORCHESTRA_LOCAL_API_TOKEN": TOKEN},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}/api/engine/public"
    client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stdout.read() if server.stdout else "serve exited"
            try:
                if client.get("/pipelines").status_code == 200:
                    break
            except httpx.TransportError:
                pass  # not listening yet
            assert time.monotonic() < deadline, "serve did not answer within 60s"
            time.sleep(0.2)
        started = time.monotonic()
        run_ids: list[str] = []
        starters = [threading.Thread(target=lambda: run_ids.append(
            client.post("/pipelines/tpch_elt/start", json={}).json()["pipelineRunId"])) for _ in range(RUNS)]
        for starter in starters:
            starter.start()
        for starter in starters:
            starter.join(timeout=60)
        assert len(run_ids) == RUNS
        observed = Observed()

        def task_runs(run_id: str) -> list[dict[str, Any]]:
            page = client.get(f"/pipeline_runs/{run_id}/task_runs", params={"page_size": 50}).json()
            return page["results"]

        def look() -> None:
            for run_id in run_ids:
                for record in task_runs(run_id):
                    observed.saw(record["status"], record["message"])

        def ended() -> bool:
            return all(client.get(f"/pipeline_runs/{run_id}/status").json()["runStatus"] in ENDED for run_id in run_ids)

        poll_until(ended, look, timeout=900)
        for run_id in run_ids:
            observed.runs[run_id] = client.get(f"/pipeline_runs/{run_id}/status").json()["runStatus"]
            for record in task_runs(run_id):
                observed.task_runs.append({"id": record["id"], "task_id": record["taskId"], "status": record["status"],
                                           "started_at": record["startedAt"], "completed_at": record["completedAt"]})
                logs = client.get(f"/pipeline_runs/{run_id}/task_runs/{record['id']}/logs").json()
                for name in logs["filenames"]:
                    if name.endswith("pool.log"):
                        observed.pool_logs[record["id"]] = client.get(
                            f"/pipeline_runs/{run_id}/task_runs/{record['id']}/logs/download",
                            params={"filename": name}).text
        check(observed)
        print(f"{RUNS} API runs in {time.monotonic() - started:.0f}s; waits seen QUEUED: {len(observed.queued_waits)}")
    finally:
        client.close()
        server.terminate()
        server.wait(timeout=60)
