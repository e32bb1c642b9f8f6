"""The demo pipeline (orchestra/tpch_elt.yml) through Dagster, once per executor: it lands the warehouse
``orchestra-local run`` lands (tests/e2e/test_tpch_demo.py asserts these counts for it), one Dagster
step per Orchestra task run, the ingest matrix's steps side by side under the multiprocess executor."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance, execute_job
from dagster._core.definitions.reconstruct import ReconstructableJob, ReconstructableRepository

from orchestra_local.export.codegen import write_dagster_definitions
from orchestra_local.export.dagster_definitions import orchestra_definitions
from orchestra_local.export.dagster_statuses import task_statuses
from tests.e2e.test_tpch_demo import EXPECTED_ROWS, MARTS, SCALE_FACTOR, generate, warehouse_counts

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[3]
PIPELINE = REPO_ROOT / "orchestra" / "tpch_elt.yml"
TASK_RUNS = {f"ingest.ingest_table[{table}]" for table in EXPECTED_ROWS} | {"transform.dbt_build"}


@pytest.fixture(scope="module")
def tpch_source(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The SF 0.01 TPC-H source, generated once for this file: its URL."""
    url = f"sqlite:///{tmp_path_factory.mktemp('tpch') / 'tpch_source.sqlite'}"
    assert generate({"TPCH_SOURCE_URL": url}, SCALE_FACTOR) == EXPECTED_ROWS
    return url


def assert_demo_warehouse(path: Path) -> None:
    counts = warehouse_counts(path)
    assert {table: counts[f"raw.{table}"] for table in EXPECTED_ROWS} == EXPECTED_ROWS
    assert {mart: counts[f"analytics.{mart}"] for mart in MARTS} == MARTS
    assert counts["analytics.fct_local_supplier_revenue"] > 0


def test_execute_in_process_lands_the_demo_warehouse(tpch_source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TPCH_SOURCE_URL", tpch_source)
    job = orchestra_definitions(PIPELINE).get_job_def("tpch_elt")
    instance = DagsterInstance.ephemeral()
    result = job.execute_in_process(instance=instance)
    assert result.success
    steps = [e.step_key for e in result.all_events if e.event_type == DagsterEventType.STEP_SUCCESS]
    assert len(steps) == len(set(steps)) == len(TASK_RUNS)  # one step per task run, nothing else
    assert task_statuses(instance, result.run_id, job) == dict.fromkeys(TASK_RUNS, "SUCCEEDED")
    assert_demo_warehouse(Path(os.environ["WAREHOUSE_DUCKDB_PATH"]))


def test_the_multiprocess_executor_runs_the_ingest_matrix_in_parallel(
    tpch_source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TPCH_SOURCE_URL", tpch_source)
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    definitions, _notes = write_dagster_definitions(PIPELINE, tmp_path / "deploy" / "dagster")
    job = ReconstructableJob(ReconstructableRepository.for_file(str(definitions), "defs"), "tpch_elt")
    with DagsterInstance.get() as instance:
        result = execute_job(job, instance=instance)
        assert result.success
        assert task_statuses(instance, result.run_id, result.job_def) == dict.fromkeys(TASK_RUNS, "SUCCEEDED")
        records = instance.all_logs(result.run_id)
    assert any(r.dagster_event and r.dagster_event.event_type == DagsterEventType.ENGINE_EVENT
               and "multiprocess" in (r.message or "").lower() for r in records)
    started = {r.step_key: r.timestamp for r in records
               if r.dagster_event and r.dagster_event.event_type == DagsterEventType.STEP_START}
    ended = {r.step_key: r.timestamp for r in records
             if r.dagster_event and r.dagster_event.event_type == DagsterEventType.STEP_SUCCESS}
    assert set(started) == set(ended) and len(started) == len(TASK_RUNS)
    ingest = sorted((started[k], ended[k]) for k in started if k.startswith("ingest__"))
    overlapping = max(sum(1 for s, e in ingest if s <= moment < e) for moment, _ in ingest)
    assert overlapping >= 2, ingest  # the matrix's steps ran side by side
    dbt_start = started["transform__dbt_build"]
    assert all(end <= dbt_start for _, end in ingest)  # transform waited for every iteration
    assert_demo_warehouse(Path(os.environ["WAREHOUSE_DUCKDB_PATH"]))
