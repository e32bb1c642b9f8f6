r"""Salesforce ingestion throughput: the worker against the loopback Salesforce test org.

Starts the test server of ``tests/salesforce_server`` in this process (HTTPS on 127.0.0.1) with N
Opportunity records (16 fields: text, booleans, currency/percent decimals, doubles, dates,
date-times), then runs in turn, each in its own subprocess, repeated and interleaved:

  floor        a bare Bulk API 2.0 download (``requests``): create a query job, poll it, fetch every
               CSV result page and discard it: the fastest any client of this server can be
  worker-bulk  python -m ingest --source salesforce --object Opportunity --api bulk
               --write-disposition replace, in python/ exactly as Orchestra runs it
  worker-rest  the same with --api rest (JSON pages of 2,000 records)

It reports wall time (interpreter start to exit), rows/s and the child's peak RSS, and writes them
as the "Salesforce" section of results/ingest_throughput.md, replacing that section only (the
TPC-H sections are written by ingest_throughput.py, which keeps this one). The server runs in its
own process (``serve`` mode): Linux counts a parent's resident memory in a child's peak RSS until
the child execs, so a parent holding the seeded records would inflate every contender's figure.
The server shares the machine with the contender: the numbers include its work.

examples:
  .venv/bin/python benchmarks/salesforce_contender.py                   # 500,000 rows, 3 runs each
  .venv/bin/python benchmarks/salesforce_contender.py --rows 100000 --repeat 1 --output /tmp/sf.md
  .venv/bin/python benchmarks/salesforce_contender.py serve --rows N   # the server (run by the above)
  .venv/bin/python benchmarks/salesforce_contender.py floor            # the floor (run by the above)
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import requests
from benchmark_report import MIB, Measurement, machine_description

REPO = Path(__file__).resolve().parents[1]
PYTHON_DIR = REPO / "python"
OBJECT = "Opportunity"
PAGE_RECORDS = 50_000
HEADING = "## Salesforce"
CONTENDERS = ("floor", "worker-bulk", "worker-rest")


def load_salesforce_server() -> ModuleType:
    """Import ``tests/salesforce_server`` (a plain package, not on sys.path) from its location."""
    package = REPO / "tests" / "salesforce_server"
    spec = importlib.util.spec_from_file_location(
        "salesforce_server", package / "__init__.py", submodule_search_locations=[str(package)]
    )
    assert spec is not None and spec.loader is not None
    sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sys.modules[spec.name])
    return sys.modules[spec.name]


def bulk_floor(instance: str, session_id: str, api_version: str = "59.0") -> int:
    """Download every record of the benchmark object through Bulk API 2.0 and discard it.

    Args:
        instance: ``https://host:port`` of the org.
        session_id: A valid session id.
        api_version: API version of the requests.

    Returns:
        Records downloaded.
    """
    base = f"{instance}/services/data/v{api_version}/jobs/query"
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {session_id}"
    describe = http.get(f"{instance}/services/data/v{api_version}/sobjects/{OBJECT}/describe/", timeout=60).json()
    fields = ", ".join(f["name"] for f in describe["fields"] if f["type"] not in ("address", "location", "base64"))
    job = http.post(base, json={"operation": "queryAll", "query": f"SELECT {fields} FROM {OBJECT}"}, timeout=60)
    job.raise_for_status()
    job_id = job.json()["id"]
    while http.get(f"{base}/{job_id}", timeout=60).json()["state"] != "JobComplete":
        time.sleep(0.2)
    records, locator = 0, ""
    while locator != "null":
        params: dict[str, Any] = {"maxRecords": PAGE_RECORDS, **({"locator": locator} if locator else {})}
        page = http.get(f"{base}/{job_id}/results", params=params, headers={"Accept": "text/csv"}, timeout=300)
        page.raise_for_status()
        records += int(page.headers["Sforce-NumberOfRecords"])
        locator = page.headers.get("Sforce-Locator", "null") or "null"
    return records


def contender_command(contender: str) -> list[str]:
    """The command line of one contender (run in python/)."""
    if contender == "floor":
        return [sys.executable, str(Path(__file__).resolve()), "floor"]
    api = contender.removeprefix("worker-")
    return [sys.executable, "-m", "ingest", "--source", "salesforce", "--object", OBJECT, "--api", api,
            "--write-disposition", "replace", "--quiet"]  # fmt: skip


def measure(contender: str, env: dict[str, str], run_dir: Path) -> Measurement:
    """Run one contender once in a fresh directory; wall time and peak RSS of the child."""
    env = {**env, "WAREHOUSE_DUCKDB_PATH": str(run_dir / "warehouse.duckdb")}
    stdout_path, stderr_path = run_dir / "stdout.txt", run_dir / "stderr.txt"
    with stdout_path.open("w") as stdout, stderr_path.open("w") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(contender_command(contender), cwd=PYTHON_DIR, env=env, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    peak_rss = usage.ru_maxrss * 1024  # Linux reports KiB
    if os.waitstatus_to_exitcode(status) != 0:
        error = stderr_path.read_text().strip().splitlines()[-1:] or ["no output"]
        return Measurement("salesforce", contender, seconds, 0, peak_rss, error[0])
    summary = json.loads(stdout_path.read_text().strip().splitlines()[-1])
    rows = int(summary["rows_written" if contender != "floor" else "rows"])
    return Measurement("salesforce", contender, seconds, rows, peak_rss)


def render_section(measurements: Sequence[Measurement], rows: int, machine: Sequence[str]) -> str:
    """The report's Salesforce section: setup, one row per contender, the machine."""
    floor = [m.seconds for m in measurements if m.contender == "floor" and m.error is None]
    floor_median = statistics.median(floor) if floor else None
    lines = [
        f"{HEADING} (loopback test org, {OBJECT}, {rows:,} rows)",
        "",
        f"`{OBJECT}` ({rows:,} records, 16 fields) served over HTTPS on 127.0.0.1 by the Salesforce test "
        "server (`tests/salesforce_server`, in its own process on the same machine), loaded into a fresh DuckDB file "
        "(write disposition `replace`). Bulk pages hold 50,000 records, REST pages 2,000. Wall time from process "
        "start to exit; rows/s from the median run; peak RSS is the child's `ru_maxrss`; `x floor` = median / "
        "floor median. Generated by `benchmarks/salesforce_contender.py`.",
        "",
        "| contender | runs ok | median s | min-max s | rows/s (median) | peak RSS MiB | x floor |",
        "|---|---|---|---|---|---|---|",
    ]
    for contender in CONTENDERS:
        mine = [m for m in measurements if m.contender == contender]
        ok = [m for m in mine if m.error is None]
        if not ok:
            lines.append(f"| {contender} | 0/{len(mine)} | failed: {mine[-1].error if mine else 'not run'} | | | | |")
            continue
        median = statistics.median(m.seconds for m in ok)
        ratio = f"{median / floor_median:.2f}" if floor_median else "n/a"
        lines.append(
            f"| {contender} | {len(ok)}/{len(mine)} | {median:.1f} | {min(m.seconds for m in ok):.1f}-"
            f"{max(m.seconds for m in ok):.1f} | {rows / median:,.0f} | {max(m.peak_rss_bytes for m in ok) / MIB:,.0f} "
            f"| {ratio} |"
        )
    return "\n".join([*lines, "", *machine, ""])


def serve(rows: int, work_dir: Path) -> None:
    """Serve a test org with ``rows`` records until stdin closes (the ``serve`` mode).

    Prints one JSON line first: the worker environment (credentials, login URL, CA bundle) plus
    ``BENCH_SF_INSTANCE`` and ``BENCH_SF_SESSION_ID`` for the floor.
    """
    server_package = load_salesforce_server()
    server = server_package.start_server(server_package.loopback_certificate(work_dir / "tls"), rows={OBJECT: rows})
    try:
        env = {**server.env(), "BENCH_SF_INSTANCE": server.url, "BENCH_SF_SESSION_ID": server.state.new_session()}
        print(json.dumps(env), flush=True)
        sys.stdin.read()  # until the benchmark closes the pipe
    finally:
        server.stop()


def run_benchmark(rows: int, repeat: int, work_dir: Path) -> tuple[str, bool]:
    """Serve ``rows`` records from a child process and measure every contender ``repeat`` times.

    Returns:
        The Markdown section and whether every run landed exactly ``rows`` rows.

    Raises:
        SystemExit: If the server process does not start.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    load_at_start = os.getloadavg()[0]
    print(f"seeding the test org with {rows:,} {OBJECT} records ...", file=sys.stderr)
    command = [sys.executable, str(Path(__file__).resolve()), "serve", "--rows", str(rows), "--work-dir", str(work_dir)]
    server = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    measurements: list[Measurement] = []
    try:
        assert server.stdout is not None and server.stdin is not None
        ready = server.stdout.readline()
        if not ready:
            raise SystemExit("Error: the Salesforce test server did not start")
        env = {**os.environ, **json.loads(ready)}
        for run in range(1, repeat + 1):
            for contender in CONTENDERS:
                run_dir = Path(tempfile.mkdtemp(dir=work_dir, prefix="sf-run-"))
                try:
                    result = measure(contender, env, run_dir)
                finally:
                    shutil.rmtree(run_dir, ignore_errors=True)
                if result.error is None and result.rows != rows:
                    result = result.failed(f"landed {result.rows:,} rows, expected {rows:,}")
                measurements.append(result)
                print(f"salesforce {contender:11} run {run}: {result.describe()}", file=sys.stderr)
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(timeout=60)
    machine = [
        *machine_description(None),
        f"- Load average (1 min) at start / end: {load_at_start:.2f} / {os.getloadavg()[0]:.2f}",
    ]
    return render_section(measurements, rows, machine), not any(m.error for m in measurements)


def replace_section(report: str, section: str) -> str:
    """``report`` with its Salesforce section (up to the next ``## `` heading) replaced or appended."""
    pattern = re.compile(rf"^{re.escape(HEADING)}\b.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(report):
        return pattern.sub(lambda _: section + ("\n" if not section.endswith("\n\n") else ""), report, count=1)
    return report.rstrip("\n") + "\n\n" + section if report.strip() else section


def existing_section(path: Path) -> str:
    """The Salesforce section of a previous report, or "" when there is none."""
    if not path.is_file():
        return ""
    match = re.search(rf"^{re.escape(HEADING)}\b.*?(?=^## |\Z)", path.read_text(), re.MULTILINE | re.DOTALL)
    return match[0] if match else ""


def salesforce_section(output: Path, rows: int, repeat: int, work_dir: Path) -> tuple[str, bool]:
    """For ingest_throughput.py: a fresh section when ``rows`` > 0, else the one ``output`` holds."""
    if rows > 0:
        return run_benchmark(rows, repeat, work_dir)
    return existing_section(output), True


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser; the module docstring is its epilog."""
    parser = argparse.ArgumentParser(
        description="Measure Salesforce ingestion throughput against the loopback test org.",
        epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("mode", nargs="?", choices=["benchmark", "serve", "floor"], default="benchmark")
    parser.add_argument("--rows", type=int, default=500_000, help="Opportunity records (default: 500,000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per contender (default: 3)")
    parser.add_argument("--work-dir", type=Path, default=REPO / ".orchestra_local" / "bench",
                        help="scratch space (default: .orchestra_local/bench)")  # fmt: skip
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "results"
                        / "ingest_throughput.md", help="report whose Salesforce section is replaced")  # fmt: skip
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark (or, as a child, the server or the floor); exit 1 if any load failed."""
    args = build_parser().parse_args(argv)
    if args.mode == "floor":
        rows = bulk_floor(os.environ["BENCH_SF_INSTANCE"], os.environ["BENCH_SF_SESSION_ID"])
        print(json.dumps({"rows": rows}))
        return 0
    if args.mode == "serve":
        serve(args.rows, args.work_dir)
        return 0
    section, ok = run_benchmark(args.rows, args.repeat, args.work_dir)
    report = args.output.read_text() if args.output.is_file() else ""
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(replace_section(report, section))
    print(f"Salesforce section written to {args.output}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
