"""A real ``orchestra-local serve`` process on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

CLI = str(Path(sys.executable).with_name("orchestra-local"))


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def serving(env: dict[str, str], repo_root: Path, token: str, timeout: float = 60) -> Iterator[str]:
    """Run ``orchestra-local serve`` on a free loopback port; yields its URL (``http://127.0.0.1:PORT``).

    ``env`` is added to the test's environment; the server is terminated (its shutdown cancels
    the runs it started) when the block ends. Its scheduler is off: the pipelines' schedules must
    not start runs the test does not expect (``tests/e2e/test_scheduler.py`` tests it).
    """
    port = free_port()
    server = subprocess.Popen([CLI, "serve", "--port", str(port), "--repo-root", str(repo_root), "--no-scheduler"],
                              env={**os.environ, **env, "ORCHESTRA_LOCAL_API_TOKEN": token},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert server.poll() is None, server.stdout.read() if server.stdout else "serve exited"
            try:
                if httpx.get(f"{url}/api/engine/public/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass  # not listening yet
            assert time.monotonic() < deadline, f"serve did not answer within {timeout:g}s"
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=60)
