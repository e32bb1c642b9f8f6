"""Latency of ``GET /pipelines`` on ``orchestra-local serve`` with concurrent clients.

The server validates each pipeline file once per content (``orchestra_local/api/registry.py``);
this measures what clients see with that cache: N clients on loopback, each sending requests
back to back, against a throwaway repository holding this repo's ``orchestra/*.yml`` plus
synthetic pipelines up to ``--pipelines`` files, and a store with ``--runs`` finished runs.

Examples:
    .venv/bin/python benchmarks/api_pipelines_latency.py                 # 20 clients x 25 requests
    .venv/bin/python benchmarks/api_pipelines_latency.py --clients 5 --requests 10 --pipelines 40

Prints one line per phase (first request, then the concurrent phase: p50/p95/max in ms, and the
server's CPU time per request, which does not depend on what else the machine runs) and exits 1
when a request fails. The goal is p95 < 100 ms with 20 clients; it is reported, not enforced.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

REPO_ROOT = Path(__file__).resolve().parents[1]
TOKEN = "benchmark-token"
SYNTHETIC = """\
version: v1
name: synthetic {index}
inputs:
  day: {{type: string, default: "2024-01-01"}}
pipeline:
{groups}
"""
GROUP = """\
  group_{g}:
    depends_on: [{depends}]
    tasks:
{tasks}
"""
TASK = """\
      task_{g}_{t}: {{integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT,
                     parameters: {{command: "python -c 'print({t})' --day ${{{{ inputs.day }}}}"}}}}
"""


def synthetic_pipeline(index: int, groups: int = 5, tasks: int = 4) -> str:
    """A valid pipeline of ``groups`` chained groups of ``tasks`` tasks each."""
    body = "".join(
        GROUP.format(g=g, depends=f"group_{g - 1}" if g else "", tasks="".join(TASK.format(g=g, t=t) for t in range(tasks)))
        for g in range(groups)
    )
    return SYNTHETIC.format(index=index, groups=body.rstrip("\n"))


def prepare_repo(root: Path, pipelines: int) -> None:
    """This repo's pipeline files plus synthetic ones, up to ``pipelines`` files."""
    (root / ".git").mkdir(parents=True)
    folder = root / "orchestra"
    folder.mkdir()
    for path in sorted((REPO_ROOT / "orchestra").glob("*.yml")):
        shutil.copy(path, folder / path.name)
    for index in range(max(0, pipelines - len(list(folder.glob("*.yml"))))):
        (folder / f"synthetic_{index:03}.yml").write_text(synthetic_pipeline(index))


def seed_runs(state: Path, root: Path, runs: int) -> None:
    """``runs`` finished runs of one small pipeline, through the real runner."""
    if runs <= 0:
        return
    (root / "seed.yml").write_text(synthetic_pipeline(999, groups=1, tasks=1))
    env = {**os.environ, "ORCHESTRA_LOCAL_HOME": str(state)}
    cli = str(Path(sys.executable).with_name("orchestra-local"))
    for _ in range(runs):
        subprocess.run([cli, "run", str(root / "seed.yml"), "--input", "day=x"], env=env, cwd=root, check=True,
                       capture_output=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients [20]")
    parser.add_argument("--requests", type=int, default=25, help="requests per client [25]")
    parser.add_argument("--pipelines", type=int, default=20, help="pipeline files in the repository [20]")
    parser.add_argument("--runs", type=int, default=5, help="finished runs in the store [5]")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="api-latency-") as tmp:
        root, state = Path(tmp) / "repo", Path(tmp) / "state"
        prepare_repo(root, args.pipelines)
        seed_runs(state, root, args.runs)
        port = free_port()
        env = {**os.environ, "ORCHESTRA_LOCAL_HOME": str(state), "ORCHESTRA_LOCAL_API_TOKEN": TOKEN}
        cli = str(Path(sys.executable).with_name("orchestra-local"))
        server = subprocess.Popen([cli, "serve", "--port", str(port), "--repo-root", str(root), "--no-scheduler"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}/api/engine/public/pipelines"
        headers = {"Authorization": f"Bearer {TOKEN}"}
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(url.replace("/pipelines", "/health"))
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        print("the server did not start", file=sys.stderr)
                        return 1
                    time.sleep(0.1)
            started = time.perf_counter()
            first = httpx.get(url, headers=headers, timeout=120)
            cold_ms = (time.perf_counter() - started) * 1000
            if first.status_code != 200:
                print(f"GET /pipelines answered {first.status_code}", file=sys.stderr)
                return 1
            print(f"{len(first.json())} pipelines; first request (validates every file): {cold_ms:.0f} ms")
            latencies: list[float] = []
            failures: list[str] = []
            lock = threading.Lock()
            barrier = threading.Barrier(args.clients)

            def client() -> None:
                with httpx.Client(headers=headers, timeout=120) as http:
                    barrier.wait()
                    for _ in range(args.requests):
                        begun = time.perf_counter()
                        response = http.get(url)
                        elapsed = (time.perf_counter() - begun) * 1000
                        with lock:
                            latencies.append(elapsed)
                            if response.status_code != 200:
                                failures.append(str(response.status_code))

            threads = [threading.Thread(target=client) for _ in range(args.clients)]
            serving = psutil.Process(server.pid).children(recursive=True) + [psutil.Process(server.pid)]
            cpu = sum(sum(process.cpu_times()[:2]) for process in serving)
            wall = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            wall = time.perf_counter() - wall
            cpu = sum(sum(process.cpu_times()[:2]) for process in serving) - cpu
            print(f"{args.clients} clients x {args.requests} requests: p50 {statistics.median(latencies):.1f} ms, "
                  f"p95 {percentile(latencies, 0.95):.1f} ms, max {max(latencies):.1f} ms, "
                  f"{len(latencies) / wall:.0f} requests/s; server CPU {cpu / len(latencies) * 1000:.2f} ms/request; "
                  f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
            if failures:
                print(f"{len(failures)} requests failed: {sorted(set(failures))}", file=sys.stderr)
                return 1
            return 0
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
