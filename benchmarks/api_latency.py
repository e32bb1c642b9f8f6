"""Latency of the API's list endpoints over a large run history (10k, 100k, 1M task runs).

Fills a metadata store with a year of synthetic history (one pipeline run per 20 task runs, one
operation per 2 task runs, 20 pipelines, 90% of task runs SUCCEEDED) in stages, and after each
stage sends every request below ``--requests`` times through the real FastAPI app in process
(``TestClient``: routing, validation, the queries, JSON), reporting p50 and p95 in ms. The
store is SQLite (a file) or PostgreSQL (a throwaway schema in ``--postgres-url``'s database).
Each list request counts its matches (the ``total``) and reads one page (50), as Orchestra's
endpoints answer; without ``time_from`` the window is the last 7 days.

    .venv/bin/python benchmarks/api_latency.py                                  # both stores, 10k..1M
    .venv/bin/python benchmarks/api_latency.py --stores sqlite --task-runs 10000,100000

Writes ``benchmarks/results/api_latency.md`` (``--output``); exits 1 when a request fails. The
goal (p95 under 20 ms at 1M task runs) is reported, not enforced.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from orchestra_local.api.app import PREFIX, ApiSettings, create_app  # noqa: E402
from orchestra_local.settings import resolve_settings  # noqa: E402
from orchestra_local.store.repository import OPERATIONS, PIPELINE_RUNS, TASK_RUNS, RunStore  # noqa: E402
from orchestra_local.workspace import Workspace  # noqa: E402

TOKEN = "benchmark-token-0123456789"
TASKS_PER_RUN = 20
PIPELINES = [str(uuid.UUID(int=i + 1)) for i in range(20)]
INTEGRATIONS = [("PYTHON", "PYTHON_EXECUTE_SCRIPT")] * 6 + [("DBT_CORE", "DBT_CORE_EXECUTE")] * 3 + [
    ("HTTP", "HTTP_REQUEST")]
SPAN = timedelta(days=365)
REQUESTS = {
    "pipeline_runs": "/pipeline_runs",
    "pipeline_runs, status": "/pipeline_runs?status=SUCCEEDED",
    "pipeline_runs, pipeline": f"/pipeline_runs?pipeline_ids={PIPELINES[3]}",
    "task_runs": "/task_runs",
    "task_runs, status (90%)": "/task_runs?status=SUCCEEDED",
    "task_runs, status (4%)": "/task_runs?status=FAILED",
    "task_runs, integration": "/task_runs?integration=DBT_CORE",
    "task_runs, pipeline + status": f"/task_runs?pipeline_ids={PIPELINES[3]}&status=SUCCEEDED",
    "task_runs, page 10": "/task_runs?page=10",
    "operations": "/operations",
    "operations, status": "/operations?status=SUCCEEDED",
    "operations, integration": "/operations?integration=DBT_CORE",
}


def _status(rng: random.Random) -> str:
    draw = rng.random()
    return "SUCCEEDED" if draw < 0.9 else "FAILED" if draw < 0.94 else "SKIPPED" if draw < 0.98 else "CANCELLED"


def _history(start: int, count: int, now: datetime, rng: random.Random) -> Iterator[tuple[list[dict[str, Any]], ...]]:
    """Batches of (pipeline runs, task runs, operations) for task runs ``start`` .. ``start + count``."""
    for first in range(start, start + count, 20_000):
        runs, tasks, operations = [], [], []
        for _ in range(first, min(first + 20_000, start + count), TASKS_PER_RUN):
            created = now - SPAN * rng.random()
            run_id = str(uuid.uuid4())
            pipeline = rng.choice(PIPELINES)
            status = _status(rng)
            runs.append({"id": run_id, "pipeline_id": pipeline, "pipeline_name": f"pipeline {pipeline[-2:]}",
                         "pipeline_alias": f"p{pipeline[-2:]}", "yaml_path": "orchestra/p.yml", "account_id": "local",
                         "env_id": None, "env_name": None, "run_status": status, "message": "",
                         "created_at": created, "updated_at": created, "started_at": created,
                         "completed_at": created + timedelta(minutes=5), "branch": "main", "commit": None,
                         "pipeline_version_number": None, "triggered_by": [], "run_inputs": {}, "data": None})
            for position in range(TASKS_PER_RUN):
                integration, job = rng.choice(INTEGRATIONS)
                task_id = str(uuid.uuid4())
                at = created + timedelta(seconds=position * 15)
                tasks.append({"id": task_id, "pipeline_run_id": run_id, "pipeline_id": pipeline,
                              "task_id": f"t{position}", "task_name": f"task {position}", "group_id": "g",
                              "iteration": None, "position": position, "account_id": "local",
                              "integration": integration, "integration_job": job, "status": _status(rng),
                              "message": None, "external_status": None, "external_message": None,
                              "platform_link": None, "task_parameters": {"command": "python x.py"},
                              "run_parameters": None, "connection_id": None, "number_of_attempts": 1,
                              "matrix_parent": False, "matrix_parent_id": None, "depends_on": [],
                              "created_at": at, "updated_at": at, "started_at": at,
                              "completed_at": at + timedelta(seconds=10)})
                if position % 2 == 0:
                    operations.append({"id": str(uuid.uuid4()), "account_id": "local", "pipeline_run_id": run_id,
                                       "task_run_id": task_id, "inserted_at": at, "message": None,
                                       "operation_name": f"model.m{position}", "operation_status": _status(rng),
                                       "operation_type": "DBT_MODEL", "external_id": f"model.m{position}",
                                       "external_status": "success", "external_detail": None,
                                       "integration": integration})
        yield runs, tasks, operations


def _fill(store: RunStore, start: int, count: int, now: datetime, rng: random.Random) -> float:
    """Insert the history of ``count`` more task runs; the seconds it took."""
    began = time.perf_counter()
    for runs, tasks, operations in _history(start, count, now, rng):
        with store.engine.begin() as connection:
            connection.execute(sa.insert(PIPELINE_RUNS), runs)
            connection.execute(sa.insert(TASK_RUNS), tasks)
            connection.execute(sa.insert(OPERATIONS), operations)
    # Fresh planner statistics (and on PostgreSQL a visibility map, for index-only counts), as a
    # database that has lived with this history has from autovacuum.
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE" if store.engine.dialect.name == "postgresql" else "ANALYZE")
    return time.perf_counter() - began


def _measure(client: TestClient, requests: int) -> dict[str, tuple[float, float, int]]:
    """p50 and p95 in ms, and the total matched, per request."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    results = {}
    for name, path in REQUESTS.items():
        times = []
        total = 0
        for _ in range(requests + 2):
            began = time.perf_counter()
            response = client.get(PREFIX + path, headers=headers)
            times.append((time.perf_counter() - began) * 1000)
            if response.status_code != 200:
                sys.exit(f"{path}: HTTP {response.status_code}: {response.text[:300]}")
            total = response.json()["total"]
        times = sorted(times[2:])  # the first two warm caches
        results[name] = (statistics.median(times), times[int(0.95 * (len(times) - 1))], total)
    return results


def _store_url(kind: str, work: Path, postgres_url: str) -> tuple[str, str | None]:
    if kind == "sqlite":
        return f"sqlite:///{work / 'metadata.db'}", None
    schema = f"api_bench_{uuid.uuid4().hex[:8]}"
    with sa.create_engine(postgres_url).begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    return f"{postgres_url}?options=-csearch_path%3D{schema}", schema


def run(kind: str, sizes: list[int], requests: int, postgres_url: str) -> list[str]:
    """Fill and measure one store; the table rows of the report."""
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / ".git").mkdir()
        (work / "orchestra").mkdir()
        url, schema = _store_url(kind, work, postgres_url)
        store = RunStore(url)
        try:
            settings = resolve_settings(work / "orchestra", repo_root=work, metadata_url=url)
            app = create_app(ApiSettings(runner=settings, token=TOKEN), Workspace.load(work), store)
            rng, now, loaded = random.Random(7), datetime.now(UTC), 0
            with TestClient(app) as client:
                for size in sizes:
                    seconds = _fill(store, loaded, size - loaded, now, rng)
                    loaded = size
                    print(f"{kind}: {size:,} task runs ({seconds:.0f} s to insert)", flush=True)
                    for name, (p50, p95, total) in _measure(client, requests).items():
                        print(f"  {name:<32} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  total {total:,}", flush=True)
                        rows.append(f"| {kind} | {size:,} | {name} | {total:,} | {p50:.1f} | {p95:.1f} |")
        finally:
            store.close()
            if schema is not None:
                with sa.create_engine(postgres_url).begin() as connection:
                    connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    return rows


def main() -> None:
    """Parse the arguments, measure, write the report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--task-runs", default="10000,100000,1000000")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "api_latency.md")
    args = parser.parse_args()
    sizes = [int(size) for size in args.task_runs.split(",")]
    rows = [row for kind in args.stores.split(",") for row in run(kind, sizes, args.requests, args.postgres_url)]
    header = ("| store | task runs | request | total matched | p50 ms | p95 ms |\n"
              "|---|---:|---|---:|---:|---:|")
    args.output.write_text(f"# API list endpoints over a large history\n\n`benchmarks/api_latency.py "
                           f"--stores {args.stores} --task-runs {args.task_runs} --requests {args.requests}`, "
                           f"{datetime.now(UTC):%Y-%m-%d}, in process (FastAPI TestClient).\n\n"
                           f"{header}\n" + "\n".join(rows) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
