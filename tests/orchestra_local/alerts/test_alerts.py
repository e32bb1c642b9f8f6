"""Alerts on real runs: the outbox is written with the status, delivered to a loopback webhook and a local
SMTP server, retried after 500s, dead after a 4xx; hosted-only destinations are never faked."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from orchestra_local.alerts.delivery import Deliverer
from orchestra_local.cli import main
from orchestra_local.connections import Connection
from orchestra_local.store.alert_outbox import list_alerts
from orchestra_local.workspace import Workspace

PIPELINE = """
version: v1
name: Alerting
inputs:
  code: {{type: string, default: "0"}}
alerts:
{pipeline_alerts}
pipeline:
  g:
    tasks:
      load:
        integration: PYTHON
        integration_job: PYTHON_EXECUTE_SCRIPT
        parameters: {{project_dir: py, command: "python task.py --name load --exit ${{{{ inputs.code }}}}"}}
        alerts:
{task_alerts}
"""


def _alerts(*rules: dict) -> str:
    return "\n".join("  " + line for line in yaml.safe_dump(list(rules)).splitlines())


def _pipeline(pipeline_alerts: list[dict], task_alerts: list[dict]) -> str:
    task = "\n".join("      " + line for line in _alerts(*task_alerts).splitlines()) if task_alerts else "          []"
    return PIPELINE.format(pipeline_alerts=_alerts(*pipeline_alerts), task_alerts=task)


@dataclass
class Receiver:
    """A loopback webhook that answers each POST with the next scripted status (then 200)."""

    statuses: list[int] = field(default_factory=list)
    requests: list[tuple[dict, dict]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.requests.append((dict(self.headers), body))
            status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.end_headers()
            # a careless receiver echoes the request's credentials in its error body
            self.wfile.write(json.dumps({"denied": self.headers.get("Authorization")}).encode() if status >= 400
                             else b"{}")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()


def _connections(receiver: Receiver, **extra: Connection) -> dict[str, Connection]:
    hook = Connection(name="ops_hook", integration="WEBHOOK",
                      fields={"base_url": receiver.url, "bearer_token": "hook-secret-123"})
    return {"ops_hook": hook, **extra}


def _workspace(connections: dict[str, Connection]) -> Workspace:
    workspace = Workspace(env={}, connections=connections)
    for connection in connections.values():
        workspace.masker.add(*connection.secrets())
    return workspace


FAILED_TO_HOOK = {"name": "Tell ops", "statuses": ["FAILED"], "custom_message": "Orders load is down",
                  "destinations": [{"integration": "WEBHOOK", "destination": "/alerts", "connection_id": "ops_hook"}]}


def test_a_failed_run_owes_its_alerts_from_the_moment_it_fails_and_delivers_each_once(run_pipeline, receiver) -> None:
    connections = _connections(receiver)
    task_rule = {"name": "Any task end", "statuses": ["ANY_COMPLETED"],
                 "destinations": [{"integration": "WEBHOOK", "connection_id": "ops_hook"}]}
    finished = run_pipeline(_pipeline([FAILED_TO_HOOK], [task_rule]), inputs={"code": "3"}, connections=connections)
    assert finished.status == "FAILED"
    owed = list_alerts(finished.store, finished.run_id)
    assert sorted((row["event_type"], row["state"]) for row in owed) == [
        ("PIPELINE_RUN_COMPLETED", "PENDING"), ("TASK_RUN_COMPLETED", "PENDING")]  # written with the statuses

    attempts = Deliverer(finished.store, _workspace(connections)).deliver_due()
    assert sorted(a.state for a in attempts) == ["DELIVERED", "DELIVERED"]
    assert Deliverer(finished.store, _workspace(connections)).deliver_due() == []  # nothing twice
    bodies = {body["event_type"]: (headers, body) for headers, body in receiver.requests}
    assert len(receiver.requests) == 2
    headers, body = bodies["PIPELINE_RUN_COMPLETED"]
    assert headers["Authorization"] == "Bearer hook-secret-123" and headers["Idempotency-Key"]
    detail = body["detail"]
    assert detail["pipeline_run_id"] == finished.run_id and detail["status"] == "FAILED"
    assert set(detail) >= {"pipeline_id", "pipeline_run_id", "status", "message", "started_at", "completed_at"}
    task_detail = bodies["TASK_RUN_COMPLETED"][1]["detail"]
    assert task_detail["task_id"] == "load" and task_detail["status"] == "FAILED" and task_detail["task_run_id"]


def test_a_succeeded_run_owes_nothing_to_a_failed_only_rule(run_pipeline, receiver) -> None:
    finished = run_pipeline(_pipeline([FAILED_TO_HOOK], []), connections=_connections(receiver))
    assert finished.status == "SUCCEEDED" and list_alerts(finished.store, finished.run_id) == []


def test_a_receiver_failing_three_times_gets_the_alert_on_the_fourth_attempt_once(run_pipeline, receiver) -> None:
    connections = _connections(receiver)
    finished = run_pipeline(_pipeline([FAILED_TO_HOOK], []), inputs={"code": "3"}, connections=connections)
    receiver.statuses = [500, 500, 500]
    attempts = Deliverer(finished.store, _workspace(connections), initial_backoff=0.01).drain(30, finished.run_id)
    assert [a.state for a in attempts] == ["PENDING", "PENDING", "PENDING", "DELIVERED"]
    assert len(receiver.requests) == 4 and len({h["Idempotency-Key"] for h, _ in receiver.requests}) == 1
    (row,) = list_alerts(finished.store, finished.run_id)
    assert (row["state"], row["attempts"], row["last_error"]) == ("DELIVERED", 4, None)


def test_a_4xx_answer_is_dead_at_once_and_secrets_never_reach_the_outbox(run_pipeline, receiver) -> None:
    connections = _connections(receiver)
    finished = run_pipeline(_pipeline([FAILED_TO_HOOK], []), inputs={"code": "3"}, connections=connections)
    receiver.statuses = [403]
    (attempt,) = Deliverer(finished.store, _workspace(connections)).deliver_due()
    assert attempt.state == "DEAD" and "403" in (attempt.error or "") and "Bearer ***" in (attempt.error or "")
    (row,) = list_alerts(finished.store, finished.run_id)
    assert row["state"] == "DEAD" and "hook-secret-123" not in json.dumps(row, default=str)


def test_pager_duty_is_recorded_remote_only_and_never_sent(run_pipeline, receiver) -> None:
    rule = {"name": "Page", "statuses": ["FAILED"], "destinations": [{"integration": "PAGER_DUTY"}]}
    finished = run_pipeline(_pipeline([rule], []), inputs={"code": "3"}, connections=_connections(receiver))
    (attempt,) = Deliverer(finished.store, _workspace(_connections(receiver))).deliver_due()
    assert attempt.state == "REMOTE_ONLY" and receiver.requests == []


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append(envelope.content)  # type: ignore[attr-defined]
        return "250 OK"


def test_an_email_alert_arrives_at_a_local_smtp_server(run_pipeline, receiver) -> None:
    inbox = _Inbox()
    with socket.socket() as probe:  # aiosmtpd needs a real port to check its server started
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        smtp = Connection(name="mail", integration="EMAIL", fields={
            "host": "127.0.0.1", "port": str(port), "starttls": "false",
            "from_address": "orchestra@example.com"})
        rule = {"name": "Mail the team", "statuses": ["FAILED", "WARNING"], "custom_message": "Check the orders feed",
                "destinations": [{"integration": "EMAIL", "destination": "data@example.com, oncall@example.com",
                                  "connection_id": "mail"}]}
        connections = _connections(receiver, mail=smtp)
        finished = run_pipeline(_pipeline([rule], []), inputs={"code": "3"}, connections=connections)
        (attempt,) = Deliverer(finished.store, _workspace(connections)).deliver_due()
        assert attempt.state == "DELIVERED", attempt.error
    finally:
        controller.stop()
    (raw,) = inbox.messages
    message = message_from_bytes(raw)
    assert message["Subject"] == "Alerting: pipeline run FAILED"
    assert message["To"] == "data@example.com, oncall@example.com"
    assert "Check the orders feed" in message.get_payload() and finished.run_id in message.get_payload()


def test_alerts_deliver_sends_what_a_killed_runner_still_owed_exactly_once(run_pipeline, receiver,
                                                                          task_repo: Path) -> None:
    connections = _connections(receiver)
    finished = run_pipeline(_pipeline([FAILED_TO_HOOK], []), inputs={"code": "3"}, connections=connections)
    # the runner "died" right after committing FAILED: nothing was sent, the alert is owed in the store
    (task_repo / "connections.yml").write_text(yaml.safe_dump({"connections": {
        "ops_hook": {"integration": "WEBHOOK", "fields": dict(connections["ops_hook"].fields)}}}))
    url = str(finished.store.engine.url)
    for _ in range(2):
        result = CliRunner().invoke(main, ["alerts", "deliver", "--repo-root", str(task_repo), "--metadata-url", url])
        assert result.exit_code == 0, result.output
    assert len(receiver.requests) == 1
    listing = CliRunner().invoke(main, ["alerts", "--metadata-url", url])
    assert "DELIVERED" in listing.output and "Tell ops" in listing.output


def _repo_with_hook(task_repo: Path, receiver: Receiver, pipeline: str) -> Path:
    (task_repo / "connections.yml").write_text(yaml.safe_dump({"connections": {
        "ops_hook": {"integration": "WEBHOOK", "fields": {"base_url": receiver.url, "bearer_token": "t0ken-abc"}}}}))
    path = task_repo / "orchestra" / "alerting.yml"
    path.write_text(pipeline)
    return path


def test_orchestra_local_run_delivers_its_alerts_before_it_exits(task_repo: Path, receiver) -> None:
    path = _repo_with_hook(task_repo, receiver, _pipeline([FAILED_TO_HOOK], []))
    result = CliRunner().invoke(main, ["run", str(path), "--input", "code=3", "--no-progress"])
    assert result.exit_code == 1, result.output
    assert "alerts: 1 delivered" in result.output
    (request,) = receiver.requests
    assert request[1]["detail"]["status"] == "FAILED" and "t0ken-abc" not in result.output


def test_serve_delivers_the_alerts_of_the_runs_it_starts(task_repo: Path, receiver) -> None:
    from fastapi.testclient import TestClient

    from orchestra_local.api.app import ApiSettings, create_app
    from orchestra_local.settings import resolve_settings

    _repo_with_hook(task_repo, receiver, _pipeline([FAILED_TO_HOOK], []))
    settings = resolve_settings(task_repo / "orchestra", repo_root=task_repo, max_parallel=2)
    app = create_app(ApiSettings(runner=settings, token="alert-token-0123456789"), Workspace.load(task_repo))
    headers = {"Authorization": "Bearer alert-token-0123456789"}
    with TestClient(app) as client:
        started = client.post("/api/engine/public/pipelines/alerting/start", json={"runInputs": {"code": "3"}},
                              headers=headers)
        assert started.status_code == 200, started.text
        deadline = time.monotonic() + 60
        while not receiver.requests:
            assert time.monotonic() < deadline, "serve delivered nothing"
            time.sleep(0.1)
    (request,) = receiver.requests
    assert request[1]["detail"]["pipeline_run_id"] == started.json()["pipelineRunId"]


def test_two_deliverers_at_once_send_each_alert_once(run_pipeline, receiver) -> None:
    connections = _connections(receiver)
    rule = {**FAILED_TO_HOOK, "statuses": ["ANY_COMPLETED"]}
    runs = [run_pipeline(_pipeline([rule], [rule]), connections=connections) for _ in range(3)]
    store = runs[0].store
    assert len(list_alerts(store)) == 6  # each run: one pipeline and one task alert
    barrier, outcomes = threading.Barrier(3), []

    def deliver() -> None:
        deliverer = Deliverer(store, _workspace(connections))
        barrier.wait()
        outcomes.extend(a.state for a in deliverer.deliver_due())

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert outcomes.count("DELIVERED") == 6 and len(receiver.requests) == 6
    assert len({headers["Idempotency-Key"] for headers, _ in receiver.requests}) == 6


def test_run_warns_with_the_yaml_path_when_an_alert_names_a_missing_connection(task_repo: Path, receiver) -> None:
    rule = {**FAILED_TO_HOOK, "destinations": [{"integration": "WEBHOOK", "connection_id": "nowhere"}]}
    path = _repo_with_hook(task_repo, receiver, _pipeline([], [rule]))
    result = CliRunner().invoke(main, ["run", str(path), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert ("pipeline.g.tasks.load.alerts[0].destinations[0].connection_id: no connection 'nowhere' in the "
            "connections file") in " ".join(result.output.split())
