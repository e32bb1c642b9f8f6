"""``run_multiple_pipelines.py`` end to end: the real script against a real ``orchestra-local serve``.

Backfills of orchestra/tpch_orders_window.yml (one ingestion of ``orders`` per date window) over
a TPC-H source made here: six monthly windows two at a time; a batch SIGKILLed after three starts
and resumed; a proxy that loses one start's answer; Orchestra's blueprint config, a wrong token and
a config typo.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from orchestra_local.store import RunStore
from tests.e2e.serving import serving

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "run_multiple_pipelines.py"
PIPELINE = "tpch_orders_window"
TOKEN = "run-multiple-token-0123456789abcdef"
SIX_MONTHS = [(date(1995, month, 1), end) for month, end in
              zip(range(1, 7), [date(1995, 1, 31), date(1995, 2, 28), date(1995, 3, 31), date(1995, 4, 30),
                                date(1995, 5, 31), date(1995, 6, 30)], strict=True)]


@pytest.fixture(scope="module")
def tpch_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("source") / "tpch_source.sqlite"
    generated = subprocess.run([sys.executable, "-m", "tpch_source", "--scale-factor", "0.01"],
                               cwd=REPO_ROOT / "python", env={**os.environ, "TPCH_SOURCE_URL": f"sqlite:///{path}"},
                               capture_output=True, text=True, timeout=300)
    assert generated.returncode == 0, generated.stderr
    return path


@pytest.fixture
def server(tpch_source: Path) -> Iterator[str]:
    with serving({"TPCH_SOURCE_URL": f"sqlite:///{tpch_source}"}, REPO_ROOT, TOKEN) as url:
        yield url


def backfill_config(path: Path, start: str, end: str, token_variable: str = "ORCHESTRA_LOCAL_TOKEN") -> Path:
    path.write_text(json.dumps({
        "workspaces": {"local": token_variable},
        "pipelines": [{"workspace": "local", "pipeline": PIPELINE,
                       "backfill": {"start": start, "end": end, "step": "1 month",
                                    "inputs": {"start_date": "{window_start}", "end_date": "{window_end}"}}}]}))
    return path


def tool(*args: str, cwd: Path, token: str = TOKEN, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "ORCHESTRA_LOCAL_TOKEN": token}, timeout=timeout)


def summary(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.stdout.strip(), result.stderr
    return json.loads(result.stdout)


def server_runs() -> list[dict[str, Any]]:
    """The server's pipeline runs, from its metadata store (which keeps each run's inputs)."""
    store = RunStore(f"sqlite:///{Path(os.environ['ORCHESTRA_LOCAL_HOME']) / 'metadata.db'}")
    return store.list_pipeline_runs()


def source_orders(source: Path, start: date, end: date) -> int:
    with sqlite3.connect(source) as connection:
        return connection.execute("select count(*) from orders where o_orderdate between ? and ?",
                                  (start.isoformat(), end.isoformat())).fetchone()[0]


def warehouse_orders() -> tuple[int, date, date]:
    with duckdb.connect(os.environ["WAREHOUSE_DUCKDB_PATH"], read_only=True) as connection:
        return connection.execute("select count(*), min(o_orderdate), max(o_orderdate) from raw.orders").fetchone()


def windows_of(runs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((run["run_inputs"]["start_date"], run["run_inputs"]["end_date"]) for run in runs)


def six_windows() -> list[tuple[str, str]]:
    return [(start.isoformat(), end.isoformat()) for start, end in SIX_MONTHS]


def moment(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def most_at_once(runs: list[dict[str, Any]]) -> int:
    moments = sorted([(moment(run["started_at"] or run["created_at"]), 1) for run in runs]
                     + [(moment(run["completed_at"]), -1) for run in runs])  # an end sorts before a start
    active = peak = 0
    for _, change in moments:
        active += change
        peak = max(peak, active)
    return peak


def test_a_six_window_backfill_two_at_a_time_loads_exactly_those_windows(server: str, tmp_path: Path,
                                                                           tpch_source: Path) -> None:
    config = backfill_config(tmp_path / "orders_1995h1.json", "1995-01-01", "1995-06-30")
    result = tool("--config", str(config), "--app-url", server, "--max-concurrent", "2", "--wait",
                  "--output", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    document = summary(result)
    assert [(run["outcome"], run["status"]) for run in document["runs"]] == [("ended", "SUCCEEDED")] * 6
    runs = server_runs()
    assert len(runs) == 6 and {run["run_status"] for run in runs} == {"SUCCEEDED"}
    assert windows_of(runs) == six_windows()
    assert {run["id"] for run in runs} == {run["pipeline_run_id"] for run in document["runs"]}
    assert most_at_once(runs) <= 2
    rows, earliest, latest = warehouse_orders()
    assert rows == source_orders(tpch_source, date(1995, 1, 1), date(1995, 6, 30)) > 0
    assert date(1995, 1, 1) <= earliest and latest <= date(1995, 6, 30)
    events = [json.loads(line) for line in (tmp_path / ".run_multiple_pipelines" / "orders_1995h1.jsonl").open()]
    assert [event["event"] for event in events].count("ended") == 6


def test_a_killed_batch_resumes_without_starting_a_window_twice(server: str, tmp_path: Path) -> None:
    # Three at a time: the fourth start waits for a run to end and for the poll that sees it
    # (batch.POLL_FIRST_SECONDS after a start at the earliest), so the kill lands after exactly three.
    config = backfill_config(tmp_path / "resume.json", "1995-01-01", "1995-06-30")
    command = [sys.executable, str(SCRIPT), "--config", str(config), "--app-url", server, "--max-concurrent", "3",
               "--wait", "--output", "json"]
    state = tmp_path / ".run_multiple_pipelines" / "resume.jsonl"
    batch = subprocess.Popen(command, cwd=tmp_path, env={**os.environ, "ORCHESTRA_LOCAL_TOKEN": TOKEN},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not state.exists() or state.read_text().count('"event": "started"') < 3:
        assert batch.poll() is None, batch.communicate()
        assert time.monotonic() < deadline, "3 windows did not start within 300s"
        time.sleep(0.05)
    batch.send_signal(signal.SIGKILL)
    batch.communicate(timeout=60)
    before = {run["id"]: run["run_status"] for run in server_runs()}
    assert len(before) == 3

    resumed = subprocess.run(command, cwd=tmp_path, env={**os.environ, "ORCHESTRA_LOCAL_TOKEN": TOKEN},
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    document = summary(resumed)
    assert [(run["outcome"], run["status"]) for run in document["runs"]
            if run["outcome"] != "skipped"] == [("ended", "SUCCEEDED")] * sum(
        run["outcome"] != "skipped" for run in document["runs"])
    runs = server_runs()
    assert len(runs) == 6 and windows_of(runs) == six_windows()  # six runs, no window twice
    new = [run for run in document["runs"] if run["pipeline_run_id"] not in before]
    assert len(new) == 3
    attached = [run for run in document["runs"] if run["origin"] == "attached"]
    still_running = [run_id for run_id, status in before.items() if status not in ("SUCCEEDED", "WARNING")]
    assert still_running and sorted(run["pipeline_run_id"] for run in attached) == sorted(still_running)


class _LosingProxy(BaseHTTPRequestHandler):
    """Forwards to ``upstream``; the ``lose``-th start request is forwarded, its answer dropped."""

    upstream = ""
    lose = 2
    starts = 0
    lock = threading.Lock()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name: value for name, value in self.headers.items() if name.lower() in ("authorization",
                                                                                             "content-type")}
        answer = httpx.request(self.command, self.upstream + self.path, content=body, headers=headers, timeout=60)
        if self.command == "POST" and self.path.endswith("/start"):
            with self.lock:
                type(self).starts += 1
                lose = type(self).starts == self.lose
            if lose:  # the run was created upstream; the client never hears of it
                self.close_connection = True
                return
        self.send_response(answer.status_code)
        for name in ("content-type", "retry-after"):
            if name in answer.headers:
                self.send_header(name, answer.headers[name])
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    do_GET = do_POST = _forward


def test_a_start_whose_answer_is_lost_is_found_not_started_twice(server: str, tmp_path: Path) -> None:
    _LosingProxy.upstream, _LosingProxy.starts = server, 0
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), _LosingProxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        config = backfill_config(tmp_path / "lossy.json", "1995-01-01", "1995-03-31")
        result = tool("--config", str(config), "--app-url", f"http://127.0.0.1:{proxy.server_port}", "--wait",
                      "--output", "json", cwd=tmp_path)
    finally:
        proxy.shutdown()
    assert _LosingProxy.starts == 3
    assert result.returncode == 0, result.stdout + result.stderr
    document = summary(result)
    lost = document["runs"][1]
    assert lost["outcome"] == "ended" and lost["status"] == "SUCCEEDED"
    assert lost["origin"] == "recovered" and "start answer lost" in result.stderr and "found run" in result.stderr
    runs = server_runs()
    assert len(runs) == 3 and windows_of(runs) == six_windows()[:3]
    assert lost["pipeline_run_id"] in {run["id"] for run in runs}


def blueprint_config(path: Path, last_entry: dict[str, Any] | None = None) -> Path:
    """Orchestra's run_multiple_pipelines config shape, as its blueprint writes it."""
    entries = [{"workspace": "local", "pipeline": PIPELINE, "branch": "", "commit": "", "environment": "",
                "run_inputs": {"start_date": "1995-01-01", "end_date": "1995-01-31"}},
               last_entry or {"workspace": "local", "pipeline": PIPELINE, "branch": "", "commit": "",
                              "environment": "", "run_inputs": {"start_date": "1995-02-01", "end_date": "1995-02-28"}}]
    path.write_text(json.dumps({"workspaces": {"local": "ORCHESTRA_LOCAL_TOKEN"}, "pipelines": entries}, indent=2))
    return path


def test_the_blueprint_config_runs_unchanged_and_bad_tokens_and_typos_start_nothing(server: str,
                                                                                    tmp_path: Path) -> None:
    config = blueprint_config(tmp_path / "blueprint.json")
    wrong = "wrong-token-zyxwvu987654"
    refused = tool("--config", str(config), "--app-url", server, cwd=tmp_path, token=wrong)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "401" in refused.stderr and "ORCHESTRA_LOCAL_TOKEN" in refused.stderr
    assert wrong not in refused.stdout + refused.stderr and TOKEN not in refused.stdout + refused.stderr

    typo = blueprint_config(tmp_path / "typo.json", {"workspace": "local", "pipelnie": PIPELINE})
    invalid = tool("--config", str(typo), "--app-url", server, cwd=tmp_path)
    assert invalid.returncode == 2, invalid.stdout + invalid.stderr
    assert "pipelines[1].pipelnie" in invalid.stderr and "pipelines[1].pipeline" in invalid.stderr
    assert server_runs() == []

    started = tool("--config", str(config), "--app-url", server, "--wait", cwd=tmp_path)
    assert started.returncode == 0, started.stdout + started.stderr
    runs = server_runs()
    assert {run["run_status"] for run in runs} == {"SUCCEEDED"} and windows_of(runs) == six_windows()[:2]
    assert TOKEN not in started.stdout + started.stderr
    again = tool("--config", str(config), "--app-url", server, "--wait", cwd=tmp_path)
    assert again.returncode == 0 and len(server_runs()) == 2  # both done: skipped, nothing started
