"""Which pools a task claims, and how a run shows a task waiting for one (QUEUED with the reason)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from orchestra_local.connections import Connection
from orchestra_local.engine.pool_claims import _ingest_destination, declared_claims, duckdb_pool
from orchestra_local.engine.pools import Holder, PoolClaim, PoolSet
from orchestra_local.errors import InvalidParametersError
from orchestra_local.store import RunStore

SPAN = '''
import sys, time
start = time.time(); time.sleep(float(sys.argv[2]))
open(sys.argv[1], "a").write(f"{start} {time.time()}\\n")
'''


@pytest.mark.parametrize(
    ("meta", "slots", "expected"),
    [
        pytest.param(None, {}, [], id="no-meta"),
        pytest.param({"owner": "x"}, {}, [], id="other-meta-keys"),
        pytest.param({"orchestra_local": {"pools": ["api"]}}, {}, [PoolClaim("api", reason="T.meta")], id="name"),
        pytest.param({"orchestra_local": {"pools": ["api"]}}, {"api": 3}, [PoolClaim("api", 3, reason="T.meta")],
                     id="slots-from-settings"),
        pytest.param({"orchestra_local": {"pools": [{"name": "w", "shared": True}]}}, {},
                     [PoolClaim("w", shared=True, reason="T.meta")], id="shared"),
        pytest.param({"orchestra_local": {}}, {}, [], id="no-pools"),
    ],
)
def test_declared_claims(meta: dict[str, Any] | None, slots: dict[str, int], expected: list[PoolClaim]) -> None:
    assert declared_claims(meta, "T", slots) == expected


@pytest.mark.parametrize(
    ("meta", "slots", "error"),
    [
        pytest.param({"orchestra_local": {"pool": ["a"]}}, {}, r"T\.meta\.orchestra_local\.pool: Extra inputs",
                     id="misspelt-key"),
        pytest.param({"orchestra_local": {"pools": "a"}}, {}, r"T\.meta\.orchestra_local\.pools: Input should be a valid list",
                     id="not-a-list"),
        pytest.param({"orchestra_local": {"pools": [""]}}, {}, r"pools\.0", id="empty-name"),
        pytest.param({"orchestra_local": {"pools": [{"name": "a", "slots": 2}]}}, {}, r"pools\.0\..*slots",
                     id="slots-in-yaml"),
        pytest.param({"orchestra_local": {"pools": [{"name": "a", "shared": True}]}}, {"a": 2},
                     r"T\.meta\.orchestra_local\.pools\.0: pool a: only a pool of one slot", id="shared-on-many"),
    ],
)
def test_invalid_declared_claims(meta: dict[str, Any], slots: dict[str, int], error: str) -> None:
    with pytest.raises(InvalidParametersError, match=error):
        declared_claims(meta, "T", slots)


@pytest.mark.parametrize(
    ("command", "destination"),
    [
        pytest.param("python -m ingest --source sql --table orders", "duckdb", id="default-duckdb"),
        pytest.param("python -m ingest --table t --destination postgres", "postgres", id="postgres"),
        pytest.param("python -m ingest --destination=duckdb --table t", "duckdb", id="equals-form"),
        pytest.param("uv run python -m ingest --table t", "duckdb", id="through-uv"),
        pytest.param("python -m sensors.check --destination duckdb", None, id="another-module"),
        pytest.param("python ingest.py --table t", None, id="a-script-named-ingest"),
        pytest.param("python -m ingest 'unbalanced", None, id="unparseable"),
    ],
)
def test_ingestion_worker_destination(command: str, destination: str | None) -> None:
    assert _ingest_destination(command) == destination


def pools_dir() -> Path:
    return Path(os.environ["ORCHESTRA_LOCAL_HOME"]) / "pools"


@contextmanager
def held_outside(name: str, *, shared: bool = False) -> Iterator[threading.Event]:
    """Hold a pool from a thread of the test, as another run would, until the event or the block ends."""
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:
        claim = PoolClaim(name, shared=shared)
        with PoolSet(pools_dir()).hold([claim], Holder("run-outside", "tr-outside", "outside_task", shared),
                                       cancelled=threading.Event(), on_wait=lambda c, h: None):
            taken.set()
            release.wait()

    thread = threading.Thread(target=hold)
    thread.start()
    assert taken.wait(10)
    try:
        yield release
    finally:
        release.set()
        thread.join(timeout=10)


def watch_statuses(store_url: str, seen: list[tuple[str, str]], stop: threading.Event, release: threading.Event
                   ) -> Callable[[Any], None]:
    """An ``on_start`` that records every (status, message) the run's task runs go through; ``release``
    is set 1.5 s after the run starts."""

    def start(execution: Any) -> None:
        store = RunStore(store_url)
        threading.Timer(1.5, release.set).start()

        def poll() -> None:
            while not stop.is_set():
                for record in store.list_task_runs(execution.pipeline_run_id):
                    pair = (record["status"], record["message"] or "")
                    if not seen or seen[-1] != pair:
                        seen.append(pair)
                time.sleep(0.02)

        threading.Thread(target=poll, daemon=True).start()

    return start


def pool_log(finished: Any, task_run_id: str) -> str:
    files = finished.store.list_files(task_run_id, "log")
    return "".join(Path(f["path"]).read_text() for f in files if f["filename"].endswith("pool.log"))


def test_a_task_waits_queued_with_the_holder_and_its_timeout_starts_when_it_runs(run_pipeline: Callable[..., Any],
                                                                                  task_repo: Path) -> None:
    seen: list[tuple[str, str]] = []
    stop = threading.Event()
    url = f"sqlite:///{Path(os.environ['ORCHESTRA_LOCAL_HOME']) / 'metadata.db'}"
    with held_outside("api_quota") as release:
        finished = run_pipeline("""
            version: v1
            name: waits
            pipeline:
              g:
                tasks:
                  t:
                    integration: PYTHON
                    integration_job: PYTHON_EXECUTE_SCRIPT
                    configuration: {timeout: 1, retries: 0}
                    meta: {orchestra_local: {pools: [api_quota]}}
                    parameters: {project_dir: py, command: "python task.py --sleep 0.2"}
        """, on_start=watch_statuses(url, seen, stop, release), metadata_url=url)
    stop.set()
    (record,) = finished.task_runs()
    assert finished.status == "SUCCEEDED", record["message"]  # waited 1.5s, ran 0.2s: within its 1s timeout
    waiting = "waiting for pool api_quota (held by run run-outside task outside_task)"
    assert ("QUEUED", waiting) in seen
    assert seen.index(("QUEUED", waiting)) < next(i for i, (s, _) in enumerate(seen) if s == "RUNNING")
    log = pool_log(finished, record["id"])
    assert waiting in log and "holds api_quota after waiting" in log
    assert record["number_of_attempts"] == 1


@pytest.mark.parametrize("workers", [1, 2])
def test_tasks_claiming_one_pool_run_one_at_a_time(run_pipeline: Callable[..., Any], task_repo: Path,
                                                   workers: int) -> None:
    (task_repo / "py" / "span.py").write_text(SPAN)
    spans = task_repo / "spans.txt"
    finished = run_pipeline(f"""
        version: v1
        name: one pool
        pipeline:
          g:
            matrix: {{inputs: {{n: [1, 2, 3]}}}}
            tasks:
              t:
                integration: PYTHON
                integration_job: PYTHON_EXECUTE_SCRIPT
                meta: {{orchestra_local: {{pools: [only_one]}}}}
                parameters: {{project_dir: py, command: "python span.py {spans} 0.3"}}
    """, workers=workers)
    assert finished.status == "SUCCEEDED"
    intervals = sorted(tuple(map(float, line.split())) for line in spans.read_text().splitlines())
    assert len(intervals) == 3
    for (_, first_end), (second_start, _) in zip(intervals, intervals[1:], strict=False):
        assert second_start >= first_end, intervals


@pytest.mark.parametrize("workers", [1, 2])
def test_cancelling_a_run_ends_a_wait_for_a_pool(run_pipeline: Callable[..., Any], workers: int) -> None:
    with held_outside("api_quota"):
        started = time.monotonic()
        finished = run_pipeline("""
            version: v1
            name: cancelled while waiting
            pipeline:
              g:
                tasks:
                  t:
                    integration: PYTHON
                    integration_job: PYTHON_EXECUTE_SCRIPT
                    meta: {orchestra_local: {pools: [api_quota]}}
                    parameters: {project_dir: py, command: "python task.py"}
        """, workers=workers, on_start=lambda execution: threading.Timer(0.5, execution.cancel).start())
        assert time.monotonic() - started < 5
    (record,) = finished.task_runs()
    assert finished.status == "CANCELLED"
    assert record["status"] == "CANCELLED" and "waiting for pool api_quota" in record["message"]
    assert record["started_at"] is None  # it never ran


def test_a_python_task_naming_the_warehouse_claims_its_duckdb_pool(run_pipeline: Callable[..., Any],
                                                                   task_repo: Path) -> None:
    pool = duckdb_pool(task_repo / "py" / "w.duckdb")
    with held_outside(pool) as release:
        finished = run_pipeline("""
            version: v1
            name: warehouse writer
            pipeline:
              g:
                tasks:
                  t:
                    integration: PYTHON
                    integration_job: PYTHON_EXECUTE_SCRIPT
                    parameters:
                      project_dir: py
                      command: python task.py
                      environment_variables: '{"WAREHOUSE_DUCKDB_PATH": "w.duckdb"}'
        """, on_start=lambda execution: threading.Timer(0.5, release.set).start())
    (record,) = finished.task_runs()
    assert finished.status == "SUCCEEDED"
    assert f"waiting for pool {pool} (held by run run-outside task outside_task)" in pool_log(finished, record["id"])


def test_a_malformed_pool_claim_fails_the_task_with_where_it_is(run_pipeline: Callable[..., Any]) -> None:
    finished = run_pipeline("""
        version: v1
        name: bad claim
        pipeline:
          g:
            tasks:
              t:
                integration: PYTHON
                integration_job: PYTHON_EXECUTE_SCRIPT
                configuration: {retries: 2}
                meta: {orchestra_local: {pools: [{name: a, slot: 2}]}}
                parameters: {project_dir: py, command: python task.py}
    """)
    (record,) = finished.task_runs()
    assert finished.status == "FAILED"
    assert record["message"].startswith("pipeline.g.tasks.t.meta.orchestra_local.pools.0.slot: Extra inputs")
    assert record["number_of_attempts"] == 1  # not retried: another attempt cannot help


def test_a_motherduck_task_claims_its_local_file(run_pipeline: Callable[..., Any], tmp_path: Path) -> None:
    lake = tmp_path / "lake.duckdb"
    with held_outside(duckdb_pool(lake)) as release:
        finished = run_pipeline("""
            version: v1
            name: lake query
            pipeline:
              g:
                tasks:
                  q:
                    integration: MOTHERDUCK
                    integration_job: MOTHERDUCK_EXECUTE_QUERY
                    connection: lake
                    parameters: {query: "create table t as select 1 as x"}
        """, connections={"lake": Connection(name="lake", integration="MOTHERDUCK", fields={"path": str(lake)})},
            on_start=lambda execution: threading.Timer(0.5, release.set).start())
    (record,) = finished.task_runs()
    assert finished.status == "SUCCEEDED", record["message"]
    expected = f"waiting for pool {duckdb_pool(lake)} (held by run run-outside task outside_task)"
    assert expected in pool_log(finished, record["id"])


INGEST_PIPELINE = """
    version: v1
    name: ingest
    pipeline:
      g:
        tasks:
          t:
            integration: PYTHON
            integration_job: PYTHON_EXECUTE_SCRIPT
            parameters: {project_dir: py, command: "python -m ingest --source sql --table orders"}
"""


@pytest.mark.parametrize(("outside_shared", "waits"), [pytest.param(False, True, id="behind-an-exclusive-holder"),
                                                       pytest.param(True, False, id="beside-a-shared-holder")])
def test_the_ingestion_worker_shares_the_warehouse_pool(run_pipeline: Callable[..., Any], task_repo: Path,
                                                        outside_shared: bool, waits: bool) -> None:
    worker = task_repo / "py" / "ingest"
    worker.mkdir()
    (worker / "__init__.py").write_text("")
    (worker / "__main__.py").write_text("print('loaded')\n")
    pool = duckdb_pool(Path(os.environ["WAREHOUSE_DUCKDB_PATH"]))
    with held_outside(pool, shared=outside_shared) as release:
        # Beside a shared holder it must not wait at all: that holder lets go only after 10 s.
        later = 10 if outside_shared else 0.5
        finished = run_pipeline(INGEST_PIPELINE, on_start=lambda execution: threading.Timer(later, release.set).start())
    (record,) = finished.task_runs()
    assert finished.status == "SUCCEEDED", record["message"]
    log = pool_log(finished, record["id"])
    assert (f"waiting for pool {pool} (held by run run-outside task outside_task)" in log) is waits, log
