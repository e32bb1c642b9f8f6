r"""What ``--reconcile-keys`` costs: TPC-H lineitem keys next to a full load, SQLite source into DuckDB.

Runs ``python -m ingest`` exactly as Orchestra does (a subprocess in ``python/``), each step timed
from interpreter start to exit, in a fresh DuckDB file:

  full load          merge of the whole table (creates it): the cost reconciliation is compared with
  incremental        an incremental merge after a first one: reads only the rows at the watermark
  + reconcile-keys   the same with --reconcile-keys: streams every (l_orderkey, l_linenumber) and
                     anti-joins them with the table in the load's transaction

The reconcile cost is the difference of the last two. Before the reconcile run, 1,000 lineitem rows
are deleted from a copy of the source, and the run must report exactly ``rows_deleted: 1000``.

examples:
  .venv/bin/python benchmarks/ingest_reconcile.py                       # SF 1, 3 runs each
  .venv/bin/python benchmarks/ingest_reconcile.py --scale-factor 0.1 --repeat 1 --output /tmp/r.md
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON_DIR = REPO / "python"
DELETED = 1000


def _run(args: list[str], env: dict[str, str]) -> tuple[float, dict]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "ingest", *args, "--quiet"], cwd=PYTHON_DIR, env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"ingest {' '.join(args)} failed: {done.stderr.strip()}")
    return seconds, json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    """Run the benchmark; writes a markdown table (``--output``) and prints it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale-factor", default="1")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "ingest-reconcile-bench")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "ingest_reconcile.md")
    args = parser.parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    cached = args.work_dir / f"tpch_sf{args.scale_factor}.sqlite"
    subprocess.run([sys.executable, "-m", "tpch_source", "--scale-factor", args.scale_factor, "--quiet"],
                   cwd=PYTHON_DIR, env={**os.environ, "TPCH_SOURCE_URL": f"sqlite:///{cached}"}, check=True,
                   capture_output=True)
    source = args.work_dir / "source.sqlite"
    base = ["--source", "sql", "--table", "lineitem"]
    incremental = [*base, "--incremental-cursor", "l_shipdate", "--initial-value", "1990-01-01",
                   "--destination-table", "lineitem_inc"]
    times: dict[str, list[float]] = {"full load": [], "incremental": [], "+ reconcile-keys": []}
    rows = 0
    for _ in range(args.repeat):
        shutil.copyfile(cached, source)
        warehouse = args.work_dir / "warehouse.duckdb"
        warehouse.unlink(missing_ok=True)
        env = {**os.environ, "SOURCE_DATABASE_URL": f"sqlite:///{source}", "WAREHOUSE_DUCKDB_PATH": str(warehouse)}
        seconds, summary = _run(base, env)
        times["full load"].append(seconds)
        rows = summary["rows_written"]
        # an incremental load of the same table: the first run loads it all and stores the watermark;
        # the timed ones read only the rows at the watermark (the last ship date)
        _run(incremental, env)
        with sqlite3.connect(source) as connection:
            connection.execute("DELETE FROM lineitem WHERE rowid IN (SELECT rowid FROM lineitem ORDER BY rowid "
                               f"LIMIT {DELETED})")
        seconds, _ = _run(incremental, env)
        times["incremental"].append(seconds)
        seconds, summary = _run([*incremental, "--reconcile-keys"], env)
        if summary["rows_deleted"] != DELETED:
            sys.exit(f"reconcile marked {summary['rows_deleted']} rows, expected {DELETED}")
        times["+ reconcile-keys"].append(seconds)
    median = {name: statistics.median(values) for name, values in times.items()}
    cost = median["+ reconcile-keys"] - median["incremental"]
    lines = [f"# --reconcile-keys on TPC-H SF {args.scale_factor} lineitem ({rows:,} rows), SQLite -> DuckDB",
             "", f"Medians of {args.repeat} run(s), wall seconds from interpreter start to exit "
             f"(`benchmarks/ingest_reconcile.py`, {os.cpu_count()} CPUs).", "",
             "| step | seconds |", "|---|---:|"]
    lines += [f"| {name} | {value:.2f} |" for name, value in median.items()]
    lines += ["", f"Reconciling {rows:,} keys costs {cost:.2f} s, {cost / median['full load']:.0%} of a full load "
              f"({median['full load']:.2f} s); it found exactly the {DELETED:,} deleted rows."]
    text = "\n".join(lines) + "\n"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
