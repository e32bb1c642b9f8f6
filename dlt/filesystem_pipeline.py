"""Load files from a landing folder or bucket into one warehouse table with dlt's ``filesystem`` source.

One invocation loads the files matching ``--file-glob`` into one table. With ``append`` or
``merge`` the listing is incremental on each file's modification date (dlt keeps the latest one
loaded in the destination), so a run loads only files that are new or changed since the last run;
``replace`` reloads every matching file. ``--all-files`` drops the modification-date cursor and
loads every matching file each run: for a pending area whose files move to an archive once loaded
(starlake's layout, ``orchestra/landing_files_to_warehouse.yml``), where the area itself says what
is new; it needs ``merge`` so that files loaded again after a crash (before they were archived)
replace their own rows instead of adding them twice. CSV files are parsed by DuckDB (dlt's
``read_csv_duckdb``), Parquet files by pyarrow (``read_parquet``); both yield Arrow batches.

examples:
  python filesystem_pipeline.py --bucket-url file:///data/landing --file-glob 'orders/*.csv' --table orders
  python filesystem_pipeline.py --bucket-url s3://acme-landing --file-glob 'events/**/*.parquet' \\
      --table events --write-disposition merge --primary-key event_id
  python filesystem_pipeline.py --bucket-url ../datasets/pending/sales/2026-12-06 --file-glob 'lineitem-*.parquet' \\
      --table lineitem --write-disposition merge --primary-key l_orderkey,l_linenumber --all-files

The summary (last stdout line) also lists the files read (``files``, their URLs, and ``file_count``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
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
        help="folder or bucket, e.g. file:///data/landing, ../datasets/pending/sales or s3://bucket/prefix "
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
        help="primary key column for merge (repeat, or separate with commas, for a compound key)",
    )
    parser.add_argument(
        "--all-files", action="store_true",
        help="load every matching file, not only those modified since the last run (a pending area "
        "emptied by an archive step); needs --write-disposition merge",
    )
    add_common_flags(parser)
    return parser


def load(args: argparse.Namespace) -> Mapping[str, object]:
    """Validate the arguments, then load the matching files.

    Args:
        args: Parsed command line of :func:`build_parser`.

    Returns:
        The load summary (see ``pipeline_load.LoadSummary``) with ``files`` (URLs of the files read,
            sorted) and ``file_count``.

    Raises:
        UsageError: For merge without ``--primary-key``, ``--all-files`` without merge, or a format
            that cannot be inferred.
        ConfigFieldMissingException: When no bucket URL is given or configured.
        PipelineStepFailed: When a file cannot be read or the load fails.
    """
    primary_key = [column.strip() for value in args.primary_key or [] for column in value.split(",") if column.strip()]
    if args.write_disposition == "merge" and not primary_key:
        raise UsageError("--write-disposition merge needs --primary-key COLUMN")
    if args.all_files and args.write_disposition != "merge":
        raise UsageError("--all-files loads files again after a crash before they were archived: "
                         "use --write-disposition merge with --primary-key, so they replace their own rows")
    file_format = args.format or _format_of(args.file_glob)
    incremental = args.write_disposition != "replace" and not args.all_files
    read: list[str] = []
    resource = _files_resource(_bucket_url(args.bucket_url), args.file_glob, incremental=incremental)

    def remember(item: Any) -> Any:  # each file item the listing yields, on its way to the reader
        read.append(item["file_url"])
        return item

    resource.add_map(remember)
    reader = read_csv_duckdb(chunk_size=CHUNK_ROWS, use_pyarrow=True) if file_format == "csv" else \
        read_parquet(chunksize=CHUNK_ROWS, use_pyarrow=True)
    rows = (resource | reader).with_name(args.table)
    rows.apply_hints(write_disposition=args.write_disposition, primary_key=primary_key or None)
    summary = run_load(f"filesystem__{args.table}", rows, args.table).as_dict()
    return {**summary, "files": sorted(read), "file_count": len(read)}


def _bucket_url(bucket_url: str | None) -> str | None:
    """A local folder (no ``scheme://``) as an absolute ``file://`` URL, relative to the working directory."""
    if not bucket_url or "://" in bucket_url:
        return bucket_url
    return Path(bucket_url).expanduser().resolve().as_uri()


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
