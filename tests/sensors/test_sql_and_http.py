"""The sql sensor against the real PostgreSQL, the http sensor against a loopback server."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

import pytest
import sqlalchemy
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from conftest import SensorProcess, SensorResult

TOKEN = "sensor-bearer-token-0123456789"


@pytest.mark.postgres
def test_sql_sensor_is_met_when_the_count_passes_and_emits_the_row(
        postgres_url: str, schema: str, start_sensor: Callable[..., SensorProcess]) -> None:
    engine = sqlalchemy.create_engine(postgres_url)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"create table {schema}.loads (day date, row_count int)")
    # a password the server never checks (trust auth) but the sensor must never print
    url = make_url(postgres_url).set(password="pg-password-never-printed").render_as_string(hide_password=False)
    query = f"select count(*) as loads, max(day) as last_day from {schema}.loads"
    running = start_sensor("sql", "--url-env", "WAREHOUSE_URL", "--query", query, "--expect", ">=2",
                           "--poke-interval", "0.3", "--timeout", "60", env={"WAREHOUSE_URL": url})
    running.wait_for_pokes(1)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"insert into {schema}.loads values ('2026-12-05', 10)")
    running.wait_for_pokes(4)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"insert into {schema}.loads values ('2026-12-06', 12)")
    result = running.result()

    assert result.returncode == 0, result.stderr
    assert result.outputs["loads"] == 2 and result.outputs["last_day"] == "2026-12-06"
    assert result.outputs["row"] == {"loads": 2, "last_day": "2026-12-06"}
    details = [poke.detail for poke in result.pokes]
    assert "first column 0 >= 2 is false" in details and "first column 1 >= 2 is false" in details
    assert "pg-password-never-printed" not in result.stdout + result.stderr


@pytest.mark.postgres
def test_sql_sensor_fails_at_once_on_a_query_the_database_rejects(
        postgres_url: str, sensor: Callable[..., SensorResult]) -> None:
    url = make_url(postgres_url).set(password="pg-password-never-printed").render_as_string(hide_password=False)
    result = sensor("sql", "--url-env", "WAREHOUSE_URL", "--query", "select * from no_such_table",
                    "--timeout", "60", env={"WAREHOUSE_URL": url})
    unset = sensor("sql", "--url-env", "UNSET_URL", "--query", "select 1")

    assert result.returncode == 1 and "the query failed" in result.stderr and "no_such_table" in result.stderr
    assert len(result.pokes) == 0  # failed in the first poke: no waiting
    assert "pg-password-never-printed" not in result.stdout + result.stderr
    assert unset.returncode == 1 and "environment variable UNSET_URL is not set" in unset.stderr


def test_sql_sensor_waits_while_the_database_cannot_be_reached(tmp_path, sensor: Callable[..., SensorResult]) -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:1/test"  # nothing listens on port 1
    result = sensor("sql", "--url-env", "DB", "--query", "select 1", "--poke-interval", "0.2", "--timeout", "0.6",
                    env={"DB": url})

    assert result.returncode == 1 and "timed out" in result.stderr
    assert result.pokes and all(poke.detail.startswith("cannot tell yet") for poke in result.pokes)


class Upstream:
    """A loopback HTTP server whose job reports ``running`` until told otherwise; 503 on its first GET."""

    def __init__(self) -> None:
        self.state = "running"
        self.requests: list[str] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                upstream.requests.append(self.headers.get("Authorization", ""))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self._send(401, {"detail": "bad token"})
                elif len(upstream.requests) == 1:
                    self._send(503, {"detail": "warming up"})
                else:
                    self._send(200, {"job": {"state": upstream.state, "rows": 42}})

            def _send(self, status: int, body: dict) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                return  # keep the test output to the sensor's lines

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jobs/7"


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.server.shutdown()


def test_http_sensor_is_met_on_status_and_json_path(upstream: Upstream, start_sensor: Callable[..., SensorProcess]) -> None:
    running = start_sensor("http", "--url", upstream.url, "--bearer-env", "UPSTREAM_TOKEN", "--json-path", "$.job.state",
                           "--equals", "done", "--poke-interval", "0.3", "--timeout", "60", env={"UPSTREAM_TOKEN": TOKEN})
    running.wait_for_pokes(3)
    upstream.state = "done"
    result = running.result()

    assert result.returncode == 0, result.stderr
    assert result.outputs["status_code"] == 200 and result.outputs["value"] == "done"
    details = [poke.detail for poke in result.pokes]
    assert details[0] == "HTTP 503, waiting for 200"
    assert 'HTTP 200, $.job.state = "running", waiting for done' in details
    assert TOKEN not in result.stdout + result.stderr


def test_http_sensor_fails_at_once_when_the_credentials_are_rejected(
        upstream: Upstream, sensor: Callable[..., SensorResult]) -> None:
    result = sensor("http", "--url", upstream.url, "--bearer-env", "UPSTREAM_TOKEN", "--timeout", "60",
                    env={"UPSTREAM_TOKEN": "wrong-token-never-printed"})

    assert result.returncode == 1 and "HTTP 401; check the credentials" in result.stderr
    assert len(upstream.requests) == 1
    assert "wrong-token-never-printed" not in result.stdout + result.stderr


def test_http_sensor_rejects_bad_json_path_with_exit_2(upstream: Upstream, sensor: Callable[..., SensorResult]) -> None:
    result = sensor("http", "--url", upstream.url, "--json-path", "$.job[", "--timeout", "5")
    equals_alone = sensor("http", "--url", upstream.url, "--equals", "done")

    assert result.returncode == 2 and "is not JSONPath" in result.stderr
    assert equals_alone.returncode == 2 and "give --json-path too" in equals_alone.stderr
    assert upstream.requests == []


def test_outputs_also_go_to_the_task_webhook_as_set_output_events(tmp_path, sensor: Callable[..., SensorResult]) -> None:
    events: list[tuple[str, dict]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers["Content-Length"])
            events.append((self.headers["Authorization"], json.loads(self.rfile.read(length))))
            self.send_response(200 if len(events) > 1 else 503)  # the first event is retried
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = sensor("files", "--root", str(tmp_path), "--domain", "sales", "--strategy", "none", env={
            "ORCHESTRA_WEBHOOK_URL": f"http://127.0.0.1:{server.server_address[1]}/webhook",
            "ORCHESTRA_API_KEY": TOKEN, "ORCHESTRA_TASK_RUN_ID": "3f2a1b0c-0000-4000-8000-000000000001"})
    finally:
        server.shutdown()

    assert result.returncode == 0, result.stderr
    delivered = {body["output_name"]: body["output_value"] for _, body in events[1:]}
    assert delivered == result.outputs
    assert {auth for auth, _ in events} == {f"Bearer {TOKEN}"}
    assert all(body["event_type"] == "SET_OUTPUT" and body["task_run_id"].startswith("3f2a1b0c") for _, body in events)
    assert TOKEN not in result.stdout + result.stderr
