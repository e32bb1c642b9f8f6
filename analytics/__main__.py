"""``python -m analytics report``: success rates, durations, slow and flaky tasks, rows loaded, slow dbt models.

    python -m analytics report                          # the runner's store, last 30 days
    python -m analytics report --since 7d --pipeline "TPC-H ELT" --out report.html
    python -m analytics report --source warehouse       # the tables metadata_api/ loaded
    python -m analytics report --run <pipeline run id> --out run.html

environment:
  ORCHESTRA_LOCAL_METADATA_URL  the runner's store (default: the SQLite file under .orchestra_local/)
  WAREHOUSE_DUCKDB_PATH         the DuckDB warehouse for --source warehouse
                                (default: .orchestra_local/warehouse.duckdb)

Prints rich tables; with --out also writes one self-contained HTML file (charts with plotly.js
embedded, so it opens offline) that adds the Gantt timeline of --run (default: the latest run).
exit codes: 0 printed, 1 the source cannot be read or the run is unknown, 2 invalid arguments.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from rich.console import Console

from analytics.html_report import write_html
from analytics.report import build_report
from analytics.sources import Selection, SourceError, open_source

REPO_ROOT = Path(__file__).resolve().parents[1]
STATE = Path(os.environ.get("ORCHESTRA_LOCAL_HOME", REPO_ROOT / ".orchestra_local"))
SPAN_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def span(text: str) -> timedelta:
    """``90m``, ``12h``, ``30d`` or ``2w`` as a timedelta (an argparse type).

    Raises:
        argparse.ArgumentTypeError: Anything else, or zero.
    """
    found = re.fullmatch(r"\s*([1-9]\d*)\s*([mhdw])\s*", text)
    if found is None:
        raise argparse.ArgumentTypeError(f"expected a span like 30d, 12h, 2w or 90m, got {text!r}")
    return timedelta(**{SPAN_UNITS[found.group(2)]: int(found.group(1))})


def build_parser() -> argparse.ArgumentParser:
    """The command line (``--help`` shows each default)."""
    parser = argparse.ArgumentParser(prog="python -m analytics", description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser("report", help="print the report; --out also writes it as HTML",
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    report.add_argument("--since", type=span, default=span("30d"), help="runs created this long ago or later")
    report.add_argument("--pipeline", action="append", default=[], metavar="NAME",
                        help="only this pipeline (by name; repeat for several)")
    report.add_argument("--out", type=Path, help="also write the report as one HTML file here")
    report.add_argument("--run", metavar="PIPELINE_RUN_ID", help="run drawn as a Gantt chart in the HTML (default: the latest)")
    report.add_argument("--source", choices=("store", "warehouse"), default="store",
                        help="the runner's store, or the warehouse tables metadata_api/ loads")
    report.add_argument("--metadata-url", default=os.environ.get("ORCHESTRA_LOCAL_METADATA_URL",
                                                                 f"sqlite:///{STATE / 'metadata.db'}"),
                        help="SQLAlchemy URL of the runner's store")
    report.add_argument("--warehouse", type=Path,
                        default=Path(os.environ.get("WAREHOUSE_DUCKDB_PATH", STATE / "warehouse.duckdb")),
                        help="DuckDB warehouse for --source warehouse")
    report.add_argument("--schema", default="orchestra_metadata", help="the warehouse schema metadata_api/ loads into")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; see the module doc for exit codes."""
    args = build_parser().parse_args(argv)
    console = Console()
    if not console.is_terminal:  # a file or a pipe: wide enough that task labels are not cut
        console = Console(width=max(console.width, 160))
    try:
        source = open_source(args.source, metadata_url=args.metadata_url, warehouse=args.warehouse, schema=args.schema)
        try:
            report = build_report(source, Selection(since=args.since, pipelines=tuple(args.pipeline)), args.run)
        finally:
            source.close()
    except SourceError as exc:
        console.print(f"[red]Error:[/] {exc}", highlight=False)
        return 1
    from analytics.terminal import print_report  # rich tables only when there is something to print

    print_report(report, console)
    if args.out is not None:
        write_html(report, args.out)
        console.print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB; opens offline)", highlight=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
