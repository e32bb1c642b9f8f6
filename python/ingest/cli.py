r"""Ingest one source table into one destination table.

Rows stream from the source in Arrow batches into a local Parquet staging file, then land in
the destination in one transaction (replace, append or merge on the primary key). Incremental
runs keep their watermark in the destination, so re-running the same window changes nothing.
A window load (--end-value, for backfills) reads only --initial-value <= COL <= --end-value,
both inclusive, and neither reads nor moves the watermark: with merge, re-running a window
changes nothing.
The last line of stdout is a JSON summary; progress and errors go to stderr.

environment:
  SOURCE_DATABASE_URL            SQLAlchemy URL of the source (or the variable named by
                                 --source-url-env)
  WAREHOUSE_DUCKDB_PATH          DuckDB warehouse file (default:
                                 <repo root>/.orchestra_local/warehouse.duckdb)
  WAREHOUSE_DUCKDB_MEMORY_LIMIT  DuckDB memory limit while applying a load (default: 512MB)

examples:
  python -m ingest --source sql --table orders
  python -m ingest --source sql --table lineitem --write-disposition replace
  python -m ingest --source sql --schema sales --table orders \
      --incremental-cursor o_orderdate --initial-value 1998-01-01
  python -m ingest --source sql --table orders --incremental-cursor o_orderdate \
      --initial-value 1995-01-01 --end-value 1995-01-31
  python -m ingest --source postgres-cdc --schema public --table orders
      (first run: snapshot; later runs: the inserts, updates and deletes since, from the
      table's logical replication slot; needs wal_level = logical on the source)

exit codes: 0 the data landed, 1 failure (destination unchanged), 2 invalid arguments,
130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence

from worker_kit.cli import add_common_flags, run_cli

from ingest.cdc import run_cdc
from ingest.config import DEFAULT_BATCH_SIZE, IngestConfig
from ingest.destinations import DESTINATIONS, DeleteMode, WriteDisposition
from ingest.kinds import add_kind_options, options_of
from ingest.pipeline import run_ingest
from ingest.sources import SOURCES
from ingest.sources.postgres_cdc import CDC_SOURCE

DEFAULT_DESTINATION_SCHEMA = "raw"


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _column_list(text: str) -> tuple[str, ...]:
    columns = tuple(part.strip() for part in text.split(","))
    if not all(columns):
        raise argparse.ArgumentTypeError(f"expected col[,col...], got {text!r}")
    return columns


def build_parser() -> argparse.ArgumentParser:
    """Build the parser of ``python -m ingest``.

    Returns:
        The parser; its epilog is this module's docstring.
    """
    parser = argparse.ArgumentParser(
        prog="python -m ingest",
        description="Ingest one source table into one destination table.",
        epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_argument_group("source")
    source.add_argument("--source", required=True, choices=sorted(SOURCES), help="source kind")
    source.add_argument("--table", "--object", dest="table", required=True,
                        help="source table (or object, e.g. a Salesforce sObject) to ingest")
    target = parser.add_argument_group("destination")
    target.add_argument(
        "--destination",
        default="duckdb",
        choices=sorted(DESTINATIONS),
        help="destination kind (default: duckdb)",
    )
    target.add_argument(
        "--destination-schema",
        default=DEFAULT_DESTINATION_SCHEMA,
        help=f"destination schema, created if missing (default: {DEFAULT_DESTINATION_SCHEMA})",
    )
    target.add_argument(
        "--destination-table", help="destination table (default: the source table's name)"
    )
    load = parser.add_argument_group("load")
    load.add_argument(
        "--write-disposition",
        type=WriteDisposition,
        default=WriteDisposition.MERGE,
        choices=list(WriteDisposition),
        help="replace the table, append rows, or merge (upsert) on the primary key "
        "(default: merge)",
    )
    load.add_argument(
        "--primary-key",
        type=_column_list,
        metavar="COL[,COL]",
        help="merge key (default: the key declared in the source)",
    )
    load.add_argument(
        "--incremental-cursor",
        metavar="COL",
        help="load only rows with COL >= the stored watermark; the watermark (largest COL "
        "loaded) is kept in <destination schema>._ingest_state",
    )
    load.add_argument(
        "--initial-value",
        metavar="VALUE",
        help="lower bound of the first incremental run (with --end-value: the window's "
        "inclusive start), in COL's type (e.g. 1998-01-01)",
    )
    load.add_argument(
        "--end-value",
        metavar="VALUE",
        help="window load (backfill): read only --initial-value <= COL <= VALUE (both "
        "inclusive), in COL's type; the stored watermark is neither used nor changed; needs "
        "--incremental-cursor and --initial-value, and merge or append",
    )
    load.add_argument(
        "--deletes",
        type=DeleteMode,
        choices=list(DeleteMode),
        help="full merge loads (no --incremental-cursor): rows whose key the source no longer has are "
        "marked with _deleted_at (soft), removed (hard) or kept (ignore), in the load's transaction "
        "(default: soft on duckdb and postgres destinations, ignore on dlt)",
    )
    load.add_argument(
        "--reconcile-keys",
        action="store_true",
        help="incremental merge of a sql source: also read every source key (key columns only, "
        "streamed) and apply --deletes (default soft) to the rows whose key is gone, in the load's "
        "transaction; finds deletes the cursor cannot see",
    )
    load.add_argument(
        "--reconcile-every",
        type=_positive_int,
        metavar="N",
        help="as --reconcile-keys, on every Nth incremental load of the table only (counted in "
        "<destination schema>._ingest_state); the loads in between read only new rows",
    )
    load.add_argument(
        "--batch-size",
        type=_positive_int,
        default=DEFAULT_BATCH_SIZE,
        help=f"rows per batch read from the source (default: {DEFAULT_BATCH_SIZE:,})",
    )
    parser.set_defaults(
        source_dests=add_kind_options(parser, "source", SOURCES),
        destination_dests=add_kind_options(parser, "destination", DESTINATIONS),
    )
    add_common_flags(parser)
    return parser


def config_from_args(args: argparse.Namespace) -> IngestConfig:
    """Turn parsed arguments into a validated configuration.

    Args:
        args: Namespace from :func:`build_parser`.

    Returns:
        The configuration.

    Raises:
        UsageError: If the arguments contradict each other.
    """
    return IngestConfig(
        source=args.source,
        table=args.table,
        source_options=options_of(args, args.source_dests[args.source]),
        destination=args.destination,
        destination_options=options_of(args, args.destination_dests[args.destination]),
        destination_schema=args.destination_schema,
        destination_table=args.destination_table or args.table,
        write_disposition=args.write_disposition,
        primary_key=args.primary_key,
        incremental_cursor=args.incremental_cursor,
        initial_value=args.initial_value,
        end_value=args.end_value,
        deletes=args.deletes,
        reconcile_keys=args.reconcile_keys,
        reconcile_every=args.reconcile_every,
        batch_size=args.batch_size,
    )


def ingest(args: argparse.Namespace) -> Mapping[str, object]:
    """Run one ingestion from parsed arguments.

    Args:
        args: Namespace from :func:`build_parser`.

    Returns:
        The JSON summary (see :meth:`ingest.pipeline.IngestSummary.as_json`).

    Raises:
        WorkerError: Any error of :mod:`ingest.errors`.
    """
    config = config_from_args(args)
    if config.source == CDC_SOURCE:
        return run_cdc(config).as_json()
    return run_ingest(config).as_json()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m ingest``.

    Args:
        argv: Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns:
        The exit code: 0 success, 1 failure, 2 invalid arguments, 130 interrupted.
    """
    return run_cli(build_parser(), ingest, argv)


if __name__ == "__main__":
    sys.exit(main())
