"""Load Orchestra's run metadata (pipeline runs, task runs, operations) into the warehouse.

    python metadata_api/orchestra_metadata_pipeline.py --base-url http://127.0.0.1:8000/api/engine/public
    python metadata_api/orchestra_metadata_pipeline.py --since 90d --destination postgres

environment:
  ORCHESTRA_API_KEY      the API key (or the variable --api-key-env names, or
                         sources.orchestra_metadata.api_key in .dlt/secrets.toml)
  ORCHESTRA_API_URL      the API's base URL when --base-url is not given
  WAREHOUSE_DUCKDB_PATH  the DuckDB warehouse (default: <repo>/.orchestra_local/warehouse.duckdb)

Other dlt destinations take their credentials the dlt way (DESTINATION__<NAME>__CREDENTIALS or
.dlt/secrets.toml). The last stdout line is a JSON summary: rows written per table.
exit codes: 0 loaded (or nothing new), 1 the load failed, 2 invalid arguments or no API key.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from dlt.pipeline.exceptions import PipelineStepFailed
from orchestra_metadata import HOSTED_BASE_URL, TABLES, orchestra_metadata

import dlt

REPO_ROOT = Path(__file__).resolve().parent.parent
DATASET = "orchestra_metadata"
_DURATION = re.compile(r"^(\d+)([hdw])$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def duration(text: str) -> timedelta:
    """``30d``, ``12h`` or ``2w`` as a timedelta (argparse type)."""
    match = _DURATION.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"expected a duration like 30d, 12h or 2w, got {text!r}")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def build_parser() -> argparse.ArgumentParser:
    """The command line (``--help`` shows each default)."""
    parser = argparse.ArgumentParser(prog="orchestra_metadata_pipeline.py", description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default=os.environ.get("ORCHESTRA_API_URL") or HOSTED_BASE_URL,
                        help="the public API's base URL (default: $ORCHESTRA_API_URL, else %(default)s)")
    parser.add_argument("--since", type=duration, default=duration("30d"),
                        help="how far back the first load goes (default: 30d)")
    parser.add_argument("--lookback", type=duration, default=duration("1d"),
                        help="how far before the previous load's end a later load starts again (default: 1d)")
    parser.add_argument("--api-key-env", default="ORCHESTRA_API_KEY", metavar="NAME",
                        help="NAME of the environment variable holding the API key (default: %(default)s)")
    parser.add_argument("--destination", default="duckdb", help="a dlt destination name (default: %(default)s)")
    parser.add_argument("--dataset", default=DATASET, help="dataset (schema) of the tables (default: %(default)s)")
    return parser


def _destination(name: str) -> object:
    if name != "duckdb":
        return name
    raw = os.environ.get("WAREHOUSE_DUCKDB_PATH", "").strip()
    path = Path(raw).expanduser().resolve() if raw else REPO_ROOT / ".orchestra_local" / "warehouse.duckdb"
    path.parent.mkdir(parents=True, exist_ok=True)
    return dlt.destinations.duckdb(credentials=str(path))


def _api_key(variable: str) -> str | None:
    return os.environ.get(variable) or dlt.secrets.get("sources.orchestra_metadata.api_key")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one load; the exit code."""
    args = build_parser().parse_args(argv)
    api_key = _api_key(args.api_key_env)
    if not api_key:
        print(f"Error: set {args.api_key_env} (or sources.orchestra_metadata.api_key in .dlt/secrets.toml)",
              file=sys.stderr)
        return 2
    started = time.monotonic()
    pipeline = dlt.pipeline(pipeline_name="orchestra_metadata", destination=_destination(args.destination),
                            dataset_name=args.dataset)
    try:
        info = pipeline.run(orchestra_metadata(args.base_url, api_key, args.since, args.lookback))
        info.raise_on_failed_jobs()
    except PipelineStepFailed as exc:
        message = str(exc.exception).replace(api_key, "***")
        print(f"Error: the {exc.step} step failed: {type(exc.exception).__name__}: {message}", file=sys.stderr)
        return 1
    normalize = pipeline.last_trace.last_normalize_info if pipeline.last_trace else None
    counts = normalize.row_counts if normalize else {}
    print(json.dumps({"dataset": args.dataset, "destination": args.destination,
                      "rows_written": {table: int(counts.get(table, 0)) for table in TABLES},
                      "seconds": round(time.monotonic() - started, 3),
                      "load_id": info.loads_ids[-1] if info.loads_ids else None}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
