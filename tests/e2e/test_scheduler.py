"""Schedules and sensors on real time: ``serve`` starts a run at the minute boundary, and a SIGKILL and
restart within the minute does not start it twice; two ``scheduler`` processes on one PostgreSQL database
start each fire time once over three minutes; meanwhile ``serve``'s sensors wait for a real PostgreSQL row
and a real (moto) S3 object, and time out on a query that never returns a row."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
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


def _serve(repo: Path, port: int, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    server = subprocess.Popen([CLI, "serve", "--port", str(port), "--repo-root", str(repo)],
                              env={**os.environ, **(env or {}), "ORCHESTRA_LOCAL_API_TOKEN": TOKEN},
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


def _wait_until_scheduling(process: subprocess.Popen[str]) -> bool:
    """Read the scheduler's output up to its "Ctrl-C stops" line; False when it exits first."""
    assert process.stdout is not None
    return any("Ctrl-C stops" in line for line in process.stdout)


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
    """Three scenarios at once, to spend the three minutes once: two ``scheduler`` processes on one
    PostgreSQL database start each fire time once; meanwhile ``serve`` (SQLite) is killed and restarted,
    and another ``serve`` runs sensors."""
    import sqlalchemy as sa

    schema = f"scheduler_e2e_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(postgres_url)
    with admin.begin() as connection:
        connection.execute(sa.text(f'create schema "{schema}"'))
    url = f"{postgres_url}?options=-csearch_path%3D{schema}"
    schedulers = _start_postgres_schedulers(tmp_path / "shared_repo", url)
    ready = [_wait_until_scheduling(process) for process in schedulers]
    # Three minute boundaries after both schedulers are up (a loaded machine may take seconds to start them).
    end = _next_boundary(datetime.now(UTC)) + timedelta(minutes=2, seconds=5)
    try:
        assert all(ready), "a scheduler exited before it started scheduling"
        try:
            with ThreadPoolExecutor(1) as pool:  # the sensors' minute runs beside the restart scenario's
                sensors = pool.submit(_sensors_on_real_time, tmp_path / "sensor_repo", postgres_url, schema)
                _serve_kill_and_restart(repo)
                sensors.result(timeout=240)
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


SENSED = """\
version: v1
name: Sensed
inputs:
  day: {{type: string, default: none}}
  file: {{type: string, default: none}}
sensors:
  landed:
    name: Batch landed
    cron: "0/1 * ? * * *"
    timezone: UTC
    timeout_mins: 1
    frequency_secs: 5
    checks:
      batch:
        integration: POSTGRES
        sensor_type: POSTGRES_QUERY
        connection: warehouse
        parameters: {{statement: "select day::text as day from {schema}.batches"}}
        map_outputs: {{day: "${{{{ outputs.results[0].day }}}}"}}
  on_file:
    name: File landed
    cron: "0/1 * ? * * *"
    timezone: UTC
    timeout_mins: 1
    frequency_secs: 5
    checks:
      file:
        integration: AWS_S3
        sensor_type: AWS_S3_FILE
        connection: lake
        parameters: {{bucket_name: landing, file_prefix: orders/}}
        map_outputs: {{file: "${{{{ outputs.files[0] }}}}"}}
  never:
    name: Never
    cron: "0/1 * ? * * *"
    timezone: UTC
    timeout_mins: 1
    frequency_secs: 5
    checks:
      none:
        integration: POSTGRES
        sensor_type: POSTGRES_QUERY
        connection: warehouse
        parameters: {{statement: "select 1 as one where false"}}
pipeline:
  g:
    tasks:
      say: {{integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, parameters: {{command: "python -V"}}}}
"""


def _sensors_on_real_time(repo: Path, postgres_url: str, schema: str) -> None:
    """``serve``'s sensors: no run while the row is missing, one run once it lands (its value as an input),
    one run once the S3 object lands, TIMED_OUT for a window that never passes; all visible in ``ticks``."""
    import boto3
    import sqlalchemy as sa
    import yaml
    from moto.server import ThreadedMotoServer

    from tests.conftest import postgres_fields

    s3_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port, verbose=False)
    moto.start()
    lake = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1",
            "endpoint_url": f"http://127.0.0.1:{s3_port}"}
    s3 = boto3.client("s3", **lake)
    s3.create_bucket(Bucket="landing")
    (repo / ".git").mkdir(parents=True)
    (repo / "orchestra").mkdir()
    (repo / "orchestra" / "sensed.yml").write_text(SENSED.format(schema=schema))
    (repo / "connections.yml").write_text(yaml.safe_dump({"connections": {
        "warehouse": {"integration": "POSTGRES", "fields": postgres_fields(postgres_url)},
        "lake": {"integration": "AWS_S3", "fields": lake}}}))
    engine = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"create table {schema}.batches (day date)")
    home = repo / "state"
    store = RunStore(f"sqlite:///{home}/metadata.db")
    server = _serve(repo, free_port(), {"ORCHESTRA_LOCAL_HOME": str(home)})
    try:
        opened = _next_boundary(datetime.now(UTC))  # the first start opens no window already open
        while datetime.now(UTC) < opened + timedelta(seconds=8):  # two polls of the new windows: nothing yet
            time.sleep(0.2)
        assert store.list_pipeline_runs() == []
        with engine.begin() as connection:
            connection.exec_driver_sql(f"insert into {schema}.batches values ('2026-12-07')")
        s3.put_object(Bucket="landing", Key="orders/part-0.csv", Body=b"id\n1\n")

        def ticks_of(name: str) -> list[dict]:
            return [t for t in list_ticks(store, "sensed", limit=50)
                    if t["trigger_name"] == name and t["scheduled_for"] == opened]

        deadline = opened + timedelta(seconds=30)
        while len(ticks_of("landed") + ticks_of("on_file")) < 2:
            assert datetime.now(UTC) < deadline, list_ticks(store, "sensed")
            time.sleep(0.2)
        with engine.begin() as connection:  # the next windows must not see the row again
            connection.exec_driver_sql(f"delete from {schema}.batches")
        (landed,), (on_file,) = ticks_of("landed"), ticks_of("on_file")
        assert landed["outcome"] == on_file["outcome"] == "STARTED", (landed, on_file)
        assert store.get_pipeline_run(landed["pipeline_run_id"])["run_inputs"]["day"] == "2026-12-07"
        assert store.get_pipeline_run(on_file["pipeline_run_id"])["run_inputs"]["file"] == "orders/part-0.csv"
        deadline = opened + timedelta(seconds=75)
        while not ticks_of("never"):
            assert datetime.now(UTC) < deadline, list_ticks(store, "sensed")
            time.sleep(0.2)
        (never,) = ticks_of("never")
        assert never["outcome"] == "TIMED_OUT" and "query returned 0 row(s)" in never["reason"]
        assert len(store.list_pipeline_runs()) == 2  # one per window that passed, none from the one that timed out
        shown = subprocess.run([CLI, "ticks", "sensed", "--state-dir", str(home)], capture_output=True, text=True,
                               timeout=60)
        assert shown.returncode == 0 and "TIMED_OUT" in shown.stdout and landed["pipeline_run_id"] in shown.stdout
    finally:
        server.terminate()
        server.wait(timeout=60)
        store.close()
        engine.dispose()
        moto.stop()
