"""Load one table of a SQL database into the warehouse with dlt's ``sql_database`` source.

One invocation loads one table (Orchestra runs one task per table). Rows stream as Arrow batches
(``backend="pyarrow"``); with ``--incremental-cursor`` only rows whose cursor is at or past the
last loaded value are read, and dlt keeps that value in the destination. The source's SQLAlchemy
URL comes from ``SOURCES__SQL_DATABASE__CREDENTIALS`` (or ``[sources.sql_database] credentials``
in ``.dlt/secrets.toml``), or from the variable named by ``--credentials-env``.

examples:
  python sql_database_pipeline.py --table orders
  python sql_database_pipeline.py --table orders --schema sales \\
      --incremental-cursor updated_at --initial-value 2024-01-01T00:00:00Z
  python sql_database_pipeline.py --table events --write-disposition append \\
      --incremental-cursor event_id --initial-value 0
  python sql_database_pipeline.py --table customers --write-disposition replace
"""

from __future__ import annotations

import argparse
import datetime
import decimal
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

from dlt.common.schema.utils import get_columns_names_with_prop
from dlt.common.time import ensure_pendulum_datetime
from dlt.extract import DltResource
from dlt.sources.sql_database import sql_table
from pipeline_cli import UsageError, add_common_flags, run_cli
from pipeline_load import run_load

import dlt

WRITE_DISPOSITIONS = ("merge", "append", "replace")


def _naive_datetime(value: str) -> datetime.datetime:
    return ensure_pendulum_datetime(value).naive()


# How --initial-value is read for each dlt data type of the cursor column (from reflection).
_CURSOR_PARSERS: dict[str, Callable[[str], Any]] = {
    "bigint": int,
    "double": float,
    "decimal": decimal.Decimal,
    "date": datetime.date.fromisoformat,
    "timestamp": ensure_pendulum_datetime,
    "text": str,
}


def build_parser() -> argparse.ArgumentParser:
    """The command line of this script (see the module docstring for examples)."""
    parser = argparse.ArgumentParser(
        description="Load one SQL table into the warehouse with dlt (sql_database source, pyarrow backend).",
        epilog="examples:" + __doc__.split("examples:", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--table", required=True, help="source table (or view) to load")
    parser.add_argument(
        "--schema", help="source schema (default: [sources.sql_database] schema, else the database's default)"
    )
    parser.add_argument(
        "--write-disposition", choices=WRITE_DISPOSITIONS, default="merge",
        help="merge: upsert on the primary key; append: add rows; replace: swap the table (default: merge)",
    )
    parser.add_argument(
        "--primary-key", action="append", metavar="COLUMN",
        help="primary key column (repeat for a compound key; default: the source table's primary key)",
    )
    parser.add_argument(
        "--incremental-cursor", metavar="COLUMN",
        help="load only rows whose COLUMN is >= the last loaded value (merge or append only)",
    )
    parser.add_argument(
        "--initial-value", metavar="VALUE",
        help="cursor value of the first run, typed by the column: 42, 2024-01-01, 2024-01-01T00:00:00Z",
    )
    parser.add_argument(
        "--credentials-env", metavar="NAME",
        help="read the source's SQLAlchemy URL from environment variable NAME "
        "(default: dlt's SOURCES__SQL_DATABASE__CREDENTIALS or .dlt/secrets.toml)",
    )
    add_common_flags(parser)
    return parser


def load(args: argparse.Namespace) -> Mapping[str, object]:
    """Validate the arguments, reflect the table, then load it.

    Args:
        args: Parsed command line of :func:`build_parser`.

    Returns:
        The load summary (see ``pipeline_load.LoadSummary``).

    Raises:
        UsageError: For contradictory flags, an unknown cursor column, an unreadable initial
            value, merge without a primary key, or an unset ``--credentials-env`` variable.
        ConfigFieldMissingException: When no credentials are configured.
        sqlalchemy.exc.SQLAlchemyError: When the source cannot be reached or has no such table.
        PipelineStepFailed: When dlt fails to extract, normalise or load.
    """
    if args.initial_value is not None and not args.incremental_cursor:
        raise UsageError("--initial-value needs --incremental-cursor")
    if args.incremental_cursor and args.write_disposition == "replace":
        raise UsageError("--incremental-cursor needs --write-disposition merge or append (replace reloads the table)")
    options: dict[str, Any] = {
        "table": args.table,
        "backend": "pyarrow",
        "write_disposition": args.write_disposition,
    }
    if args.schema:
        options["schema"] = args.schema
    if args.primary_key:
        options["primary_key"] = args.primary_key
    if args.credentials_env:
        options["credentials"] = _credentials_from(args.credentials_env)
    resource = sql_table(**options)  # reflects the table now, so every check below runs before loading
    table_schema = resource.compute_table_schema()
    columns = table_schema["columns"]
    if args.write_disposition == "merge" and not get_columns_names_with_prop(table_schema, "primary_key"):
        raise UsageError(
            f"table {args.table!r} has no primary key to merge on: pass --primary-key COLUMN "
            "or --write-disposition append|replace"
        )
    if args.incremental_cursor:
        resource.apply_hints(incremental=_incremental(resource, args.incremental_cursor, args.initial_value, columns))
    return run_load(f"sql_database__{args.table}", resource, args.table).as_dict()


def _credentials_from(variable: str) -> str:
    """The SQLAlchemy URL held by environment variable ``variable``.

    Raises:
        UsageError: If the variable is unset or empty (the message names it, never a value).
    """
    value = os.environ.get(variable, "").strip()
    if not value:
        raise UsageError(f"environment variable {variable} (named by --credentials-env) is not set or empty")
    return value


def _incremental(
    resource: DltResource, cursor: str, initial_value: str | None, columns: Mapping[str, Any]
) -> dlt.sources.incremental[Any]:
    """An incremental cursor on ``cursor`` with ``initial_value`` parsed as that column's type.

    Raises:
        UsageError: If the column does not exist, has a type that cannot be a cursor, or the
            initial value does not parse as that type.
    """
    if cursor not in columns:
        raise UsageError(
            f"--incremental-cursor {cursor!r} is not a column of {resource.name!r}; columns: {', '.join(columns)}"
        )
    if initial_value is None:
        return dlt.sources.incremental(cursor)
    column = columns[cursor]
    data_type = column.get("data_type")
    parser = _CURSOR_PARSERS.get(str(data_type))
    if data_type == "timestamp" and column.get("timezone") is False:
        parser = _naive_datetime  # compare like with like: the column holds naive timestamps
    if parser is None:
        raise UsageError(f"column {cursor!r} has type {data_type}, which cannot be an incremental cursor")
    try:
        start = parser(initial_value)
    except (ValueError, ArithmeticError) as exc:
        raise UsageError(f"--initial-value {initial_value!r} is not a valid {data_type} for column {cursor!r}") from exc
    return dlt.sources.incremental(cursor, initial_value=start)


if __name__ == "__main__":
    sys.exit(run_cli(build_parser(), load))
