"""`orchestra-local serve` as a real process on loopback: token, body limit (with its RSS), 500s, docs."""

from __future__ import annotations

import http.client
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

PREFIX = "/api/engine/public"
MAX_RSS = 1024**3  # 1 GiB


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[str]
    port: int
    token: str
    state: Path

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def rss(self) -> int:
        return int(psutil.Process(self.process.pid).memory_info().rss)


def _start(repo: Path, state: Path, *args: str) -> tuple[subprocess.Popen[str], int]:
    port = _free_port()
    command = [sys.executable, "-m", "orchestra_local.cli", "serve", "--port", str(port), "--repo-root", str(repo),
               "--state-dir", str(state), *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "ORCHESTRA_LOCAL_API_TOKEN": ""})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited {process.returncode}: {process.stderr.read() if process.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("serve did not listen within 60 s")


def _stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    try:
        _out, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        _out, err = process.communicate()
    return err


@pytest.fixture
def server(repo: Path, tmp_path: Path) -> Iterator[Server]:
    """A server started with ``--token ""``: it must generate a token and print it."""
    state = tmp_path / "serve-state"
    process, port = _start(repo, state, "--token", "")
    assert process.stderr is not None
    line = ""
    deadline = time.monotonic() + 30
    while "API token" not in line and time.monotonic() < deadline:
        line = process.stderr.readline()
    assert "API token" in line, "serve --token '' did not print the generated token"
    token = line.rsplit(":", 1)[1].strip()
    assert len(token) >= 24
    yield Server(process, port, token, state)
    _stop(process)


def _request(connection: http.client.HTTPConnection, method: str, path: str, token: str,
             body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    connection.request(method, PREFIX + path, body=body,
                       headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", **(headers or {})})
    response = connection.getresponse()
    return response.status, json.loads(response.read() or b"null")


def test_the_printed_token_is_the_one_served(server: Server) -> None:
    connection = server.connection()
    assert _request(connection, "GET", "/pipelines", server.token)[0] == 200
    assert _request(connection, "GET", "/pipelines", "")[0] == 401


def test_oversized_bodies_answer_413_and_the_server_stays_small(server: Server) -> None:
    """Declared, undeclared (chunked) and lying Content-Length bodies, each well over 1 MiB."""
    before = server.rss()
    document = {"version": "v1", "name": "big", "pipeline": {"g": {"tasks": {"t": {
        "integration": "PYTHON", "integration_job": "PYTHON_EXECUTE_SCRIPT",
        "parameters": {"command": "x" * (4 * 1024 * 1024)}}}}}}
    big = json.dumps(document).encode()  # ~4 MiB, the size that took the server to ~4 GB
    for _ in range(3):
        status, body = _request(server.connection(), "POST", "/pipelines/schema", "", big)
        assert status == 413 and "limit is 1048576 bytes" in body["detail"]

    connection = server.connection()  # chunked: no Content-Length, counted as it streams
    connection.putrequest("POST", PREFIX + "/pipelines/schema")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Transfer-Encoding", "chunked")
    connection.endheaders()
    try:
        for _ in range(64):  # 64 x 256 KiB = 16 MiB offered
            chunk = b" " * (256 * 1024)
            connection.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        connection.send(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may close once it has answered 413
    response = connection.getresponse()
    assert response.status == 413
    after = server.rss()
    assert after < MAX_RSS, f"server RSS {after / 2**20:.0f} MiB after oversized bodies"
    assert after - before < 64 * 2**20, f"RSS grew {(after - before) / 2**20:.0f} MiB on refused bodies"
    assert _request(server.connection(), "GET", "/pipelines", server.token)[0] == 200


def test_an_internal_error_keeps_the_connection_open(server: Server) -> None:
    connection = server.connection()
    assert _request(connection, "GET", "/operations", server.token)[0] == 200
    with sqlite3.connect(server.state / "metadata.db") as database:
        database.execute("drop table operations")
    assert _request(connection, "GET", "/operations", server.token) == (500, {"detail": "Internal server error"})
    assert _request(connection, "GET", "/pipeline_runs", server.token)[0] == 200  # same socket


def test_docs_are_off_by_default_and_on_with_the_flag(server: Server, repo: Path, tmp_path: Path) -> None:
    connection = server.connection()
    connection.request("GET", PREFIX + "/docs")
    assert connection.getresponse().status == 404
    process, port = _start(repo, tmp_path / "docs-state", "--token", "t" * 24, "--docs")
    try:
        with_docs = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        with_docs.request("GET", PREFIX + "/docs")
        assert with_docs.getresponse().status == 200
    finally:
        _stop(process)
