"""Schedules on real time: ``serve`` starts a run at the minute boundary, and a SIGKILL and restart within
the minute does not start it twice; two ``scheduler`` processes on one PostgreSQL database start each fire
time once over three minutes."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from orchestra_local.store import RunStore
from orchestra_local.store.ticks import list_ticks
from tests.e2e.serving import CLI, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TOKEN = "scheduler-token-0123456789abcdef"
MINUTELY = """\
version: v1
name: Minutely
schedule:
  - name: every minute
    cron: "0/1 * ? * * *"
pipeline:
  g:
    tasks:
      say: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, parameters: {command: "python -V"}}
"""


def _serve(repo: Path, port: int) -> subprocess.Popen[str]:
    server = subprocess.Popen([CLI, "serve", "--port", str(port), "--repo-root", str(repo)],
                              env={**os.environ, "ORCHESTRA_LOCAL_API_TOKEN": TOKEN},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while True:
        assert server.poll() is None, server.stdout.read() if server.stdout else "serve exited"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/engine/public/health", timeout=5).status_code == 200:
                return server
        except httpx.TransportError:
            pass  # not listening yet
        assert time.monotonic() < deadline, "serve did not answer"
        time.sleep(0.1)


def _ticks_at(moment: datetime) -> list[dict]:
    store = RunStore(f"sqlite:///{os.environ['ORCHESTRA_LOCAL_HOME']}/metadata.db")
    try:
        return [tick for tick in list_ticks(store, "minutely", limit=20) if tick["scheduled_for"] == moment]
    finally:
        store.close()


def _next_boundary(after: datetime) -> datetime:
    return after.replace(second=0, microsecond=0) + timedelta(minutes=1)


def _start_postgres_schedulers(repo: Path, url: str) -> list[subprocess.Popen[str]]:
    (repo / "orchestra").mkdir(parents=True, exist_ok=True)
    (repo / ".git").mkdir(exist_ok=True)
    (repo / "orchestra" / "minutely.yml").write_text(MINUTELY)
    return [subprocess.Popen([CLI, "scheduler", "--repo-root", str(repo), "--metadata-url", url,
                              "--state-dir", str(repo / f"state{index}")],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for index in range(2)]


def _serve_kill_and_restart(repo: Path) -> None:
    """serve starts the next minute within 2 s; SIGKILLed right after and restarted in the minute, it does
    not start that minute again."""
    (repo / "orchestra" / "minutely.yml").write_text(MINUTELY)
    if datetime.now(UTC).second > 50:  # keep the restart below inside the minute that fired
        time.sleep(61 - datetime.now(UTC).second)
    port = free_port()
    server = _serve(repo, port)
    boundary = _next_boundary(datetime.now(UTC))
    try:
        deadline = boundary + timedelta(seconds=20)
        while not (started := _ticks_at(boundary)):
            assert datetime.now(UTC) < deadline, f"no run started for {boundary.isoformat()}"
            time.sleep(0.05)
        server.send_signal(signal.SIGKILL)  # right after the fire
        server.wait(timeout=30)
        (tick,) = started
        store = RunStore(f"sqlite:///{os.environ['ORCHESTRA_LOCAL_HOME']}/metadata.db")
        run = store.get_pipeline_run(tick["pipeline_run_id"])
        store.close()
        assert tick["outcome"] == "STARTED" and run is not None
        assert run["triggered_by"][0]["triggerType"] == "SCHEDULED"
        delay = (run["created_at"] - boundary).total_seconds()
        assert 0 <= delay < 2, f"the run started {delay:.2f} s after the minute"

        server = _serve(repo, port)  # restarted within the same minute
        time.sleep(3)  # several passes of the restarted scheduler
        assert datetime.now(UTC) < boundary + timedelta(seconds=60), "the restart left the minute: rerun the test"
        assert [t["outcome"] for t in _ticks_at(boundary)] == ["STARTED"]
        listed = httpx.get(f"http://127.0.0.1:{port}/api/engine/public/ticks", params={"pipelines": "minutely"},
                           headers={"Authorization": f"Bearer {TOKEN}"}).json()
        assert Counter(record["scheduledFor"] for record in listed["results"])[boundary.isoformat()] == 1
        shown = subprocess.run([CLI, "ticks", "minutely"], capture_output=True, text=True, timeout=60)
        assert shown.returncode == 0 and "STARTED" in shown.stdout and tick["pipeline_run_id"] in shown.stdout
    finally:
        server.terminate()
        server.wait(timeout=60)


@pytest.mark.postgres
def test_schedules_on_real_time(repo: Path, tmp_path: Path, postgres_url: str) -> None:
    """Two scenarios at once, to spend the three minutes once: two ``scheduler`` processes on one
    PostgreSQL database start each fire time once; meanwhile ``serve`` (SQLite) is killed and restarted."""
    import sqlalchemy as sa

    schema = f"scheduler_e2e_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(postgres_url)
    with admin.begin() as connection:
        connection.execute(sa.text(f'create schema "{schema}"'))
    url = f"{postgres_url}?options=-csearch_path%3D{schema}"
    end = _next_boundary(datetime.now(UTC)) + timedelta(minutes=2, seconds=5)  # three minute boundaries
    schedulers = _start_postgres_schedulers(tmp_path / "shared_repo", url)
    try:
        try:
            _serve_kill_and_restart(repo)
            while datetime.now(UTC) < end:
                assert all(process.poll() is None for process in schedulers), "a scheduler exited"
                time.sleep(0.5)
        finally:
            for process in schedulers:
                process.send_signal(signal.SIGTERM)
            outputs = [process.communicate(timeout=60)[0] for process in schedulers]
        store = RunStore(url)
        ticks = list_ticks(store, "minutely", limit=100)
        runs = store.list_pipeline_runs(limit=100)
        store.close()
        per_minute = Counter(tick["scheduled_for"] for tick in ticks if tick["outcome"] == "STARTED")
        assert len(per_minute) >= 3 and set(per_minute.values()) == {1}, (per_minute, outputs)
        assert len(runs) == sum(per_minute.values())
        assert all(process.returncode == 0 for process in schedulers), outputs
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'drop schema "{schema}" cascade'))
        admin.dispose()
