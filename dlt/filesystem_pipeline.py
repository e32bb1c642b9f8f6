"""Load files from a landing folder or bucket into one warehouse table with dlt's ``filesystem`` source.

One invocation loads the files matching ``--file-glob`` into one table. With ``append`` or
``merge`` the listing is incremental on each file's modification date (dlt keeps the latest one
loaded in the destination), so a run loads only files that are new or changed since the last run;
``replace`` reloads every matching file. CSV files are parsed by DuckDB (dlt's
``read_csv_duckdb``), Parquet files by pyarrow (``read_parquet``); both yield Arrow batches.

examples:
  python filesystem_pipeline.py --bucket-url file:///data/landing --file-glob 'orders/*.csv' --table orders
  python filesystem_pipeline.py --bucket-url s3://acme-landing --file-glob 'events/**/*.parquet' \\
      --table events --write-disposition merge --primary-key event_id
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Any

from dlt.extract import DltResource
from dlt.sources.filesystem import filesystem, read_csv_duckdb, read_parquet
from pipeline_cli import UsageError, add_common_flags, run_cli
from pipeline_load import run_load

import dlt

WRITE_DISPOSITIONS = ("append", "merge", "replace")
FORMATS = ("csv", "parquet")
CHUNK_ROWS = 10_000  # rows per Arrow batch read from one file


def build_parser() -> argparse.ArgumentParser:
    """The command line of this script (see the module docstring for examples)."""
    parser = argparse.ArgumentParser(
        description="Load the files of a landing folder or bucket into one warehouse table with dlt.",
        epilog="examples:" + __doc__.split("examples:", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--table", required=True, help="destination table the files load into")
    parser.add_argument(
        "--bucket-url",
        help="folder or bucket, e.g. file:///data/landing or s3://bucket/prefix "
        "(default: [sources.filesystem] bucket_url / SOURCES__FILESYSTEM__BUCKET_URL)",
    )
    parser.add_argument(
        "--file-glob", default="*.csv", help="files to load, relative to the bucket URL (default: *.csv)"
    )
    parser.add_argument(
        "--format", choices=FORMATS,
        help="file format (default: from the glob's extension, .csv or .parquet)",
    )
    parser.add_argument(
        "--write-disposition", choices=WRITE_DISPOSITIONS, default="append",
        help="append: add the new files' rows; merge: upsert on --primary-key; "
        "replace: reload all matching files (default: append)",
    )
    parser.add_argument(
        "--primary-key", action="append", metavar="COLUMN",
        help="primary key column for merge (repeat for a compound key)",
    )
    add_common_flags(parser)
    return parser


def load(args: argparse.Namespace) -> Mapping[str, object]:
    """Validate the arguments, then load the matching files.

    Args:
        args: Parsed command line of :func:`build_parser`.

    Returns:
        The load summary (see ``pipeline_load.LoadSummary``).

    Raises:
        UsageError: For merge without ``--primary-key``, or a format that cannot be inferred.
        ConfigFieldMissingException: When no bucket URL is given or configured.
        PipelineStepFailed: When a file cannot be read or the load fails.
    """
    if args.write_disposition == "merge" and not args.primary_key:
        raise UsageError("--write-disposition merge needs --primary-key COLUMN")
    file_format = args.format or _format_of(args.file_glob)
    resource = _files_resource(args.bucket_url, args.file_glob, incremental=args.write_disposition != "replace")
    reader = read_csv_duckdb(chunk_size=CHUNK_ROWS, use_pyarrow=True) if file_format == "csv" else \
        read_parquet(chunksize=CHUNK_ROWS, use_pyarrow=True)
    rows = (resource | reader).with_name(args.table)
    rows.apply_hints(write_disposition=args.write_disposition, primary_key=args.primary_key or None)
    return run_load(f"filesystem__{args.table}", rows, args.table).as_dict()


def _files_resource(bucket_url: str | None, file_glob: str, incremental: bool) -> DltResource:
    """dlt's file listing; ``bucket_url`` None leaves it to dlt's configuration."""
    options: dict[str, Any] = {"file_glob": file_glob}
    if bucket_url:
        options["bucket_url"] = bucket_url
    if incremental:
        # files modified at or after the newest one already loaded; dlt de-duplicates the
        # boundary by the listing's primary key, file_url
        options["incremental"] = dlt.sources.incremental("modification_date")
    return filesystem(**options)


def _format_of(file_glob: str) -> str:
    """The file format implied by the glob's extension.

    Raises:
        UsageError: If the glob ends in neither ``.csv`` nor ``.parquet``.
    """
    for file_format in FORMATS:
        if file_glob.lower().endswith(f".{file_format}"):
            return file_format
    raise UsageError(f"cannot tell the format of {file_glob!r}: pass --format {'|'.join(FORMATS)}")


if __name__ == "__main__":
    sys.exit(run_cli(build_parser(), load))
