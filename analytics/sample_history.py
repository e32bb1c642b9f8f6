"""A synthetic run history written into a metadata store: to try the report and the run viewer before
months of runs exist, for the report's benchmark (``benchmarks/analytics_report.py``) and its tests.

Each generated pipeline run has a matrix task ingesting :data:`TABLES` (one INGESTION operation per
table, with rows) and a dbt task (one MATERIALISATION operation per model in :data:`MODELS`), with
the store's own columns and statuses. A share of ingestion task runs needs two or three attempts
and still succeeds (flaky), a share fails, which fails the run and skips its dbt task. The history
is deterministic for a seed, and :class:`Tally` counts what was written, so a test can check the
report against it.

Never point it at a store holding real runs: it only inserts, but the report cannot tell its runs
from real ones.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from orchestra_local.store import RunStore
from orchestra_local.store.repository import LOCAL_ACCOUNT_ID, OPERATIONS, PIPELINE_RUNS, TASK_RUNS, new_id

PIPELINES = ("TPC-H ELT", "Salesforce to warehouse", "Metadata to warehouse")
TABLES = ("orders", "lineitem", "customer", "part")
MODELS = ("stg_tpch__orders", "stg_tpch__line_items", "int_order_items", "fct_orders", "dim_customers")
FLAKY_SHARE = 0.05
"""Share of ingestion task runs that succeed on a later attempt."""
FAILED_SHARE = 0.02
"""Share of ingestion task runs that fail (their run fails, its dbt task is skipped)."""


@dataclass
class Tally:
    """What :func:`write_history` wrote.

    Attributes:
        runs: Pipeline runs per (pipeline name, run status).
        flaky: Ingestion task runs that succeeded after retries, per (pipeline name, table).
        rows: Rows of the ingestion operations per table.
        run_ids: Every pipeline run id, oldest first.
    """

    runs: Counter[tuple[str, str]] = field(default_factory=Counter)
    flaky: Counter[tuple[str, str]] = field(default_factory=Counter)
    rows: Counter[str] = field(default_factory=Counter)
    run_ids: list[str] = field(default_factory=list)


def _task(run: dict[str, Any], task_id: str, group_id: str, position: int, status: str, start: datetime | None,
          seconds: float, **fields: Any) -> dict[str, Any]:
    return {"id": new_id(), "pipeline_run_id": run["id"], "pipeline_id": run["pipeline_id"], "task_id": task_id,
            "task_name": task_id.replace("_", " ").title(), "group_id": group_id, "position": position,
            "account_id": LOCAL_ACCOUNT_ID, "status": status, "created_at": run["created_at"],
            "updated_at": run["completed_at"], "started_at": start,
            "completed_at": start + timedelta(seconds=seconds) if start else run["completed_at"], "message": status,
            "number_of_attempts": 1 if start else 0, "matrix_parent": False, "iteration": None,
            "matrix_parent_id": None, "run_parameters": None, **fields}  # every record has every key: one executemany


def _operation(task: dict[str, Any], name: str, kind: str, seconds: float, rows: int | None) -> dict[str, Any]:
    return {"id": new_id(), "account_id": LOCAL_ACCOUNT_ID, "pipeline_run_id": task["pipeline_run_id"],
            "task_run_id": task["id"], "inserted_at": task["completed_at"], "operation_name": name,
            "operation_status": "SUCCEEDED", "operation_type": kind, "external_id": name,
            "integration": task["integration"], "integration_job": task["integration_job"],
            "started_at": task["started_at"], "completed_at": task["started_at"] + timedelta(seconds=seconds),
            "operation_duration": seconds, "rows_affected": rows, "dependencies": []}


def _one_run(rng: random.Random, pipeline: str, created: datetime, tally: Tally) -> tuple[dict, list[dict], list[dict]]:
    run = {"id": new_id(), "pipeline_id": f"00000000-0000-4000-8000-00000000000{PIPELINES.index(pipeline)}",
           "pipeline_name": pipeline, "pipeline_alias": pipeline.lower().replace(" ", "_"), "yaml_path": "",
           "account_id": LOCAL_ACCOUNT_ID, "created_at": created, "updated_at": created, "started_at": created,
           "triggered_by": [{"type": "SCHEDULE"}], "run_inputs": {}}
    run["completed_at"] = created  # moved to the end below
    tasks = [_task(run, "ingest_table", "ingest", 0, "SUCCEEDED", created, 0.0, integration="PYTHON",
                   integration_job="PYTHON_EXECUTE_SCRIPT", matrix_parent=True)]
    operations, failed, end = [], False, created
    for position, table in enumerate(TABLES, start=1):
        roll = rng.random()
        status = "FAILED" if roll < FAILED_SHARE else "SUCCEEDED"
        attempts = rng.choice((2, 3)) if FAILED_SHARE <= roll < FAILED_SHARE + FLAKY_SHARE else 1
        seconds = rng.uniform(2, 30) * attempts
        task = _task(run, "ingest_table", "ingest", position, status, created, seconds, integration="PYTHON",
                     integration_job="PYTHON_EXECUTE_SCRIPT", iteration=position - 1, matrix_parent_id=tasks[0]["id"],
                     run_parameters={"matrix": {"table": table}}, number_of_attempts=attempts if status == "SUCCEEDED" else 3)
        tasks.append(task)
        end = max(end, task["completed_at"])
        if status == "FAILED":
            failed = True
            continue
        rows = rng.randint(1_000, 100_000)
        operations.append(_operation(task, f"raw.{table}", "INGESTION", seconds / attempts, rows))
        tally.rows[f"raw.{table}"] += rows
        if attempts > 1:
            tally.flaky[(pipeline, f"ingest.ingest_table[{table}]")] += 1
    tasks[0].update(completed_at=end, status="FAILED" if failed else "SUCCEEDED")
    dbt_seconds = [rng.uniform(0.1, 4.0) for _ in MODELS]
    dbt = _task(run, "dbt_build", "transform", len(TABLES) + 1, "SKIPPED" if failed else "SUCCEEDED",
                None if failed else end, sum(dbt_seconds) + 1.0, integration="DBT_CORE", integration_job="DBT_CORE_EXECUTE")
    tasks.append(dbt)
    if not failed:
        operations += [_operation(dbt, model, "MATERIALISATION", seconds, None)
                       for model, seconds in zip(MODELS, dbt_seconds, strict=True)]
        end = dbt["completed_at"]
    run.update(run_status="FAILED" if failed else "SUCCEEDED", completed_at=end, updated_at=end,
               message="a task failed" if failed else "all tasks succeeded")
    for task in tasks:
        task["updated_at"] = end
    tally.runs[(pipeline, run["run_status"])] += 1
    tally.run_ids.append(run["id"])
    return run, tasks, operations


def write_history(store: RunStore, runs: int, *, days: int = 30, seed: int = 7,
                  now: datetime | None = None) -> Tally:
    """Insert ``runs`` pipeline runs spread evenly over the ``days`` before ``now``.

    Args:
        store: The store to write to (bulk inserts, one transaction per 200 runs).
        runs: Number of pipeline runs, cycling through :data:`PIPELINES`.
        days: Span of their creation times, in days.
        seed: Seed of the random durations, row counts, retries and failures.
        now: End of the span (aware UTC; default now).

    Returns:
        What was written.
    """
    rng, tally = random.Random(seed), Tally()
    now = now or datetime.now(UTC)
    step = timedelta(days=days) / max(runs, 1)
    for first in range(0, runs, 200):
        batch = [_one_run(rng, PIPELINES[index % len(PIPELINES)], now - timedelta(days=days) + step * index, tally)
                 for index in range(first, min(first + 200, runs))]
        with store.engine.begin() as connection:
            connection.execute(insert(PIPELINE_RUNS), [run for run, _, _ in batch])
            connection.execute(insert(TASK_RUNS), [task for _, tasks, _ in batch for task in tasks])
            operations = [operation for _, _, ops in batch for operation in ops]
            if operations:
                connection.execute(insert(OPERATIONS), operations)
    return tally
