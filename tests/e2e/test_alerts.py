"""An alert outlives its runner: ``orchestra-local run`` is SIGKILLed after its run committed FAILED and before
the alert reached the (still down) receiver; ``orchestra-local alerts deliver`` sends it, exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from orchestra_local.store import RunStore
from orchestra_local.store.alert_outbox import list_alerts
from tests.e2e.serving import CLI, free_port

pytestmark = [pytest.mark.e2e]

PIPELINE = """\
version: v1
name: Failing with an alert
alerts:
  - name: Tell ops
    statuses: [FAILED]
    destinations: [{integration: WEBHOOK, connection_id: ops_hook, destination: /alerts}]
pipeline:
  g:
    tasks:
      boom: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT,
             parameters: {command: "python -c 'import sys; sys.exit(3)'"}}
"""


def _receiver(port: int, received: list[dict]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

        def do_POST(self) -> None:  # noqa: N802
            received.append({"headers": dict(self.headers),
                             "body": json.loads(self.rfile.read(int(self.headers["Content-Length"])))})
            self.send_response(200)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_an_alert_owed_by_a_killed_runner_is_delivered_once_by_alerts_deliver(repo: Path) -> None:
    port = free_port()  # nothing listens there until after the kill
    (repo / "orchestra" / "failing.yml").write_text(PIPELINE)
    (repo / "connections.yml").write_text(yaml.safe_dump({"connections": {"ops_hook": {
        "integration": "WEBHOOK", "fields": {"base_url": f"http://127.0.0.1:{port}", "bearer_token": "s3cret-token"}}}}))
    runner = subprocess.Popen([CLI, "run", str(repo / "orchestra" / "failing.yml"), "--no-progress"],
                              cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    store = RunStore(f"sqlite:///{os.environ['ORCHESTRA_LOCAL_HOME']}/metadata.db")
    try:
        deadline = time.monotonic() + 120
        while not [row for row in list_alerts(store) if row["attempts"] >= 1 and row["state"] == "PENDING"]:
            assert runner.poll() is None, runner.stdout.read() if runner.stdout else "run exited"
            assert time.monotonic() < deadline, "the run never tried to deliver its alert"
            time.sleep(0.05)
        runner.send_signal(signal.SIGKILL)  # FAILED is committed, the alert failed once and waits for a retry
        runner.wait(timeout=30)
        (owed,) = list_alerts(store)
        assert owed["state"] in ("PENDING", "SENDING") and "ConnectError" in (owed["last_error"] or "")
        assert store.get_pipeline_run(owed["pipeline_run_id"])["run_status"] == "FAILED"

        received: list[dict] = []
        server = _receiver(port, received)
        try:
            for _ in range(2):  # the second finds nothing owed
                done = subprocess.run([CLI, "alerts", "deliver", "--repo-root", str(repo), "--timeout", "90"],
                                      cwd=repo, capture_output=True, text=True, timeout=180)
                assert done.returncode == 0, done.stdout + done.stderr
                assert "s3cret-token" not in done.stdout + done.stderr
        finally:
            server.shutdown()
        (request,) = received
        assert request["body"]["event_type"] == "PIPELINE_RUN_COMPLETED"
        assert request["body"]["detail"]["pipeline_run_id"] == owed["pipeline_run_id"]
        assert request["headers"]["Idempotency-Key"] == owed["id"]
        (delivered,) = list_alerts(store)
        assert delivered["state"] == "DELIVERED" and delivered["attempts"] >= 2
    finally:
        if runner.poll() is None:
            runner.kill()
        store.close()
