"""Orchestra's own CLI (orchestra-cli from PyPI) against `orchestra-local serve` on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TOKEN = "cli-test-token-42"
ORCHESTRA = str(Path(sys.executable).with_name("orchestra"))

GOOD = """
version: v1
name: passes
pipeline:
  g:
    tasks:
      t: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, parameters: {command: "python -c 'print(1)'"}}
"""
FAILING = GOOD.replace("passes", "fails").replace("print(1)", "import sys; sys.exit(3)")
BAD = """
version: v1
name: bad
schedule: [{cron: "0 25 ? * * *"}]
pipeline:
  g:
    tasks:
      t: {integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, parameters: {commnd: "python x.py"}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(cli_path: str, repo: Path) -> Iterator[str]:
    for name, text in (("passes", GOOD), ("fails", FAILING), ("bad", BAD)):
        (repo / "orchestra" / f"{name}.yml").write_text(dedent(text))
    port = free_port()
    process = subprocess.Popen([cli_path, "serve", "--port", str(port), "--repo-root", str(repo)],
                               env={**os.environ, "ORCHESTRA_LOCAL_API_TOKEN": TOKEN}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base_url}/api/engine/public/health").status_code == 200:
                break
        except httpx.TransportError:
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()[0]
            time.sleep(0.1)
    yield base_url
    process.terminate()
    output, _ = process.communicate(timeout=30)
    assert "Traceback" not in output, output


def orchestra(base_url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BASE_URL": base_url, "ORCHESTRA_API_KEY": TOKEN, "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run([ORCHESTRA, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_validate_good_and_bad_files(server: str, repo: Path) -> None:
    good = orchestra(server, "pipeline", "validate", str(repo / "orchestra" / "passes.yml"), cwd=repo)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "Validation passed" in good.stdout
    bad = orchestra(server, "pipeline", "validate", str(repo / "orchestra" / "bad.yml"), cwd=repo)
    assert bad.returncode == 1
    assert "Error at: schedule.0.cron" in bad.stdout and "Invalid hour value" in bad.stdout
    assert "Error at: pipeline.g.tasks.t.parameters.commnd" in bad.stdout


def test_run_waits_and_exits_with_the_run_outcome(server: str, repo: Path) -> None:
    passed = orchestra(server, "pipeline", "run", "--alias", "passes", "--wait", cwd=repo)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Pipeline succeeded" in passed.stdout
    failed = orchestra(server, "pipeline", "run", "--alias", "fails", "--wait", cwd=repo)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "Pipeline ended with status FAILED" in failed.stdout
