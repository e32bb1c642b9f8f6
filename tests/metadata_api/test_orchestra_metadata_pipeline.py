"""metadata_api/orchestra_metadata_pipeline.py end to end: real dlt, real DuckDB, real HTTP servers.

Once against ``orchestra-local serve`` over runs the real CLI recorded (one with a failed task), once
against a loopback server shaped like hosted Orchestra: only 7-day windows, at most 100 items a page.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import duckdb
import pytest

from analytics.report import build_report
from analytics.sources import Selection, StoreSource, WarehouseSource
from tests.e2e.serving import CLI, serving

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT = REPO_ROOT / "metadata_api"
TOKEN = "metadata-token-0123456789abcdef"
DATA_APP_COLUMNS = {"pipeline_runs": 16, "task_runs": 22, "operations": 20}
DLT_COLUMNS = {"_dlt_load_id", "_dlt_id"}
PIPELINE = """\
version: v1
name: Two steps
inputs:
  fail: {type: string, default: "no"}
pipeline:
  steps:
    tasks:
      first:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        parameters: {project_dir: scripts, command: python step.py first no}
      second:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        depends_on: [first]
        configuration: {retries: 0}
        parameters:
          project_dir: scripts
          command: python step.py second ${{ inputs.fail }}
"""
STEP = """\
import json, sys
if sys.argv[2] == "yes":
    sys.exit(f"{sys.argv[1]} was told to fail")
print(json.dumps({"table": sys.argv[1], "rows_written": 3}))
"""


def load(base_url: str, *args: str) -> dict[str, Any]:
    result = subprocess.run([sys.executable, "orchestra_metadata_pipeline.py", "--base-url", base_url, *args],
                            cwd=PROJECT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "ORCHESTRA_API_KEY": TOKEN})
    assert result.returncode == 0, result.stdout + result.stderr
    assert TOKEN not in result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def warehouse() -> duckdb.DuckDBPyConnection:
    return duckdb.connect(os.environ["WAREHOUSE_DUCKDB_PATH"], read_only=True)


def loaded_ids(table: str) -> set[str]:
    with warehouse() as connection:
        return {row[0] for row in connection.execute(f"select id from orchestra_metadata.{table}").fetchall()}


def store_ids(table: str) -> set[str]:
    with sqlite3.connect(Path(os.environ["ORCHESTRA_LOCAL_HOME"]) / "metadata.db") as connection:
        return {row[0] for row in connection.execute(f"select id from {table}").fetchall()}


def run_pipeline(repo: Path, *args: str, exit_code: int = 0) -> None:
    result = subprocess.run([CLI, "run", str(repo / "orchestra" / "two_steps.yml"), "--no-progress", *args], cwd=repo,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == exit_code, result.stdout + result.stderr


def test_the_loader_loads_exactly_the_stores_runs_then_only_what_is_new(repo: Path) -> None:
    (repo / "orchestra" / "two_steps.yml").write_text(PIPELINE)
    (repo / "scripts").mkdir()
    (repo / "scripts" / "step.py").write_text(STEP)
    run_pipeline(repo)
    run_pipeline(repo, "--input", "fail=yes", exit_code=1)
    with serving({}, repo, TOKEN) as url:
        base = f"{url}/api/engine/public"
        first = load(base)
        for table in DATA_APP_COLUMNS:
            assert loaded_ids(table) == store_ids(table) and store_ids(table), table
        assert first["rows_written"] == {table: len(store_ids(table)) for table in DATA_APP_COLUMNS}
        with warehouse() as connection:
            for table, count in DATA_APP_COLUMNS.items():
                columns = {row[0] for row in connection.execute(
                    "select column_name from information_schema.columns where table_schema = 'orchestra_metadata' "
                    "and table_name = ?", [table]).fetchall()}
                assert len(columns - DLT_COLUMNS) == count and "loaded_at" in columns, table
            statuses = Counter(row[0] for row in connection.execute(
                "select run_status from orchestra_metadata.pipeline_runs").fetchall())
            parameters = connection.execute("select task_parameters ->> 'command' from orchestra_metadata.task_runs "
                                            "where task_id = 'second' and status = 'FAILED'").fetchone()
            before = connection.execute("select id, loaded_at from orchestra_metadata.pipeline_runs").fetchall()
        assert statuses == {"SUCCEEDED": 1, "FAILED": 1}
        assert parameters == ("python step.py second yes",)

        assert load(base)["rows_written"] == {"pipeline_runs": 0, "task_runs": 0, "operations": 0}
        with warehouse() as connection:
            assert connection.execute("select id, loaded_at from orchestra_metadata.pipeline_runs").fetchall() == before

        known = {table: store_ids(table) for table in DATA_APP_COLUMNS}
        run_pipeline(repo)
        new = {table: store_ids(table) - known[table] for table in DATA_APP_COLUMNS}
        third = load(base)
    assert third["rows_written"] == {table: len(ids) for table, ids in new.items()}
    assert len(new["pipeline_runs"]) == 1 and len(new["task_runs"]) == 2
    for table in DATA_APP_COLUMNS:
        assert loaded_ids(table) == store_ids(table)
    _the_report_reads_the_warehouse_as_it_reads_the_store()


def _the_report_reads_the_warehouse_as_it_reads_the_store() -> None:
    """``python -m analytics report --source warehouse`` over what was loaded: the store's figures."""
    selection = Selection(since=timedelta(days=1))
    from_store = build_report(StoreSource(f"sqlite:///{Path(os.environ['ORCHESTRA_LOCAL_HOME']) / 'metadata.db'}"),
                              selection)
    from_warehouse = build_report(WarehouseSource(Path(os.environ["WAREHOUSE_DUCKDB_PATH"])), selection)
    assert from_warehouse.totals == from_store.totals == {"pipeline_runs": 3, "task_runs": 6, "operations": 5}
    assert [row[:5] for row in from_warehouse.pipelines.rows] == [row[:5] for row in from_store.pipelines.rows]
    assert from_warehouse.rows_per_day.rows == from_store.rows_per_day.rows
    assert from_warehouse.run["id"] == from_store.run["id"]  # type: ignore[index]
    assert [(bar.label, bar.status) for bar in from_warehouse.bars] == [
        (bar.label.split(".", 1)[1], bar.status) for bar in from_store.bars]  # the Data App has no task group


def test_the_pipeline_file_runs_the_loader_on_the_local_runner(repo: Path) -> None:
    (repo / "orchestra" / "two_steps.yml").write_text(PIPELINE)
    (repo / "scripts").mkdir()
    (repo / "scripts" / "step.py").write_text(STEP)
    run_pipeline(repo)
    before = {table: store_ids(table) for table in DATA_APP_COLUMNS}
    with serving({}, repo, TOKEN) as url:
        result = subprocess.run([CLI, "run", str(REPO_ROOT / "orchestra" / "metadata_to_warehouse.yml"), "--no-progress",
                                 "--input", f"base_url={url}/api/engine/public", "--input", "api_key_env=META_KEY"],
                                cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
                                env={**os.environ, "META_KEY": TOKEN})
    assert result.returncode == 0, result.stdout + result.stderr
    assert TOKEN not in result.stdout + result.stderr
    for table, ids in before.items():  # what the store held before; the loading run itself may be there too
        assert ids and loaded_ids(table) >= ids, table
    with warehouse() as connection:  # the dbt models over the loaded tables, built by the pipeline's second task
        runs = dict(connection.execute("select pipeline_run_id, task_run_count from analytics.fct_pipeline_runs "
                                       "where pipeline_name = 'Two steps'").fetchall())
        flags = connection.execute("select count(*), count(*) filter (where is_flaky) from analytics.fct_task_runs "
                                   "where pipeline_name = 'Two steps'").fetchone()
    assert runs == {run_id: 2 for run_id in before["pipeline_runs"]} and flags == (2, 0)


class _HostedShape(BaseHTTPRequestHandler):
    """Orchestra's list endpoints as hosted answers them: 7-day windows at most, 100 items a page."""

    records: dict[str, list[dict[str, Any]]] = {}
    asked: list[tuple[str, str, int]] = []

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return

    def _answer(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        table = url.path.rsplit("/", 1)[-1]
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._answer(401, {"detail": "Invalid or missing API key"})
        start, end = datetime.fromisoformat(query["time_from"]), datetime.fromisoformat(query["time_to"])
        page, size = int(query.get("page", 1)), int(query.get("page_size", 50))
        if end - start > timedelta(days=7) or not 1 <= size <= 100 or table not in self.records:
            return self._answer(422, {"detail": [{"msg": "window over 7 days or page_size over 100"}]})
        self.asked.append((table, query["time_from"], page))
        key = "insertedAt" if table == "operations" else "createdAt"
        matching = [record for record in self.records[table] if start <= datetime.fromisoformat(record[key]) < end]
        return self._answer(200, {"page": page, "pageSize": size, "total": len(matching),
                                  "results": matching[(page - 1) * size:page * size]})


def hosted_records(now: datetime) -> dict[str, list[dict[str, Any]]]:
    """450 pipeline runs over the last 25 days (up to 135 in a week), 2 task runs and 1 operation each."""
    records: dict[str, list[dict[str, Any]]] = {"pipeline_runs": [], "task_runs": [], "operations": []}
    for number in range(450):
        moment = (now - timedelta(days=25) + timedelta(hours=number * 1.3)).isoformat()
        run_id = str(uuid.uuid4())
        records["pipeline_runs"].append({"id": run_id, "pipelineId": "p", "pipelineName": "Hosted", "runStatus":
                                         "SUCCEEDED", "createdAt": moment, "updatedAt": moment, "extraField": 1})
        for task in ("a", "b"):
            task_run_id = str(uuid.uuid4())
            records["task_runs"].append({"id": task_run_id, "pipelineRunId": run_id, "taskId": task,
                                         "status": "SUCCEEDED", "createdAt": moment, "updatedAt": moment,
                                         "taskParameters": {"command": f"run {task}"}})
        records["operations"].append({"id": str(uuid.uuid4()), "pipelineRunId": run_id, "taskRunId": task_run_id,
                                      "insertedAt": moment, "operationName": "raw.t", "dependencies": ["x"]})
    return records


@pytest.fixture
def hosted() -> Iterator[str]:
    _HostedShape.records, _HostedShape.asked = hosted_records(datetime.now(UTC)), []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HostedShape)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/api/engine/public"
    finally:
        server.shutdown()


def test_a_hosted_shaped_api_is_walked_window_by_window_and_page_by_page(hosted: str) -> None:
    summary = load(hosted, "--since", "30d")
    assert summary["rows_written"] == {"pipeline_runs": 450, "task_runs": 900, "operations": 450}
    for table in DATA_APP_COLUMNS:
        assert loaded_ids(table) == {record["id"] for record in _HostedShape.records[table]}
        windows = {start for name, start, _ in _HostedShape.asked if name == table}
        assert len(windows) == 5, table  # 30 days in 7-day windows
    pages = Counter((name, start) for name, start, _ in _HostedShape.asked if name == "task_runs")
    assert max(pages.values()) >= 3  # a week holds more than 200 task runs: several pages
    with warehouse() as connection:
        assert connection.execute("select count(*) from orchestra_metadata.task_runs "
                                  "where task_parameters ->> 'command' = 'run a'").fetchone() == (450,)
