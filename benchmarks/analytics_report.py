"""``python -m analytics report`` on a generated history: wall time end to end, and where it goes.

Writes ``--runs`` pipeline runs (``analytics/sample_history.py``: 6 task runs and up to 9 operations
each) into a fresh SQLite store, then times, ``--repeat`` times each:

- the command itself in a subprocess (``python -m analytics report --since 30d --out report.html``):
  interpreter start, imports, reading the store, the SQL, the tables and the HTML file, as a user
  waits for it;
- in-process: ``build_report`` (store -> DuckDB -> every figure) and ``render_html`` apart.

Goal: under 10 s for 1,000 runs.

    .venv/bin/python benchmarks/analytics_report.py [--runs 1000] [--repeat 3] [--write benchmarks/results/analytics_report.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # analytics/ is run from the repository root (python -m analytics), not installed

from analytics.html_report import render_html  # noqa: E402
from analytics.report import build_report  # noqa: E402
from analytics.sample_history import write_history  # noqa: E402
from analytics.sources import Selection, StoreSource  # noqa: E402
from orchestra_local.store import RunStore  # noqa: E402


def _median_seconds(action, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    """Run the benchmark; print (and with --write, save) a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", type=Path, help="also write the table to this Markdown file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'metadata.db'}"
        store = RunStore(url)
        write_history(store, args.runs, days=29, now=datetime.now(UTC) - timedelta(minutes=1))
        store.close()
        out = Path(folder) / "report.html"
        command = [sys.executable, "-m", "analytics", "report", "--since", "30d", "--metadata-url", url,
                   "--out", str(out)]

        def run_command() -> None:
            subprocess.run(command, cwd=REPO_ROOT, check=True, stdout=subprocess.DEVNULL,
                           env={**os.environ, "COLUMNS": "160"})

        command_seconds = _median_seconds(run_command, args.repeat)
        source, selection = StoreSource(url), Selection(since=timedelta(days=30))
        report = build_report(source, selection)
        assert report.totals["pipeline_runs"] == args.runs, report.totals
        build_seconds = _median_seconds(lambda: build_report(source, selection), args.repeat)
        render_seconds = _median_seconds(lambda: render_html(report), args.repeat)
        source.close()
        megabytes = out.stat().st_size / 1e6
    table = "\n".join([
        f"# analytics report: {args.runs:,} runs ({report.totals['task_runs']:,} task runs, "
        f"{report.totals['operations']:,} operations), SQLite store, median of {args.repeat}",
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {date.today().isoformat()}",
        "",
        "| step | seconds |",
        "|---|---:|",
        f"| `python -m analytics report --out report.html` (subprocess, end to end) | {command_seconds:.2f} |",
        f"| in-process `build_report` (store -> DuckDB -> every figure) | {build_seconds:.2f} |",
        f"| in-process `render_html` ({megabytes:.1f} MB, plotly.js inline) | {render_seconds:.2f} |",
        "",
        f"Goal: under 10 s for 1,000 runs. Reproduce: `.venv/bin/python benchmarks/analytics_report.py "
        f"--runs {args.runs} --repeat {args.repeat}`",
    ])
    print(table)
    if args.write:
        args.write.write_text(table + "\n", encoding="utf-8")
    return 0 if args.runs != 1000 or command_seconds < 10 else 1


if __name__ == "__main__":
    sys.exit(main())
