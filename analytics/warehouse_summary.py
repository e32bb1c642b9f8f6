"""Print what the last demo run produced: warehouse tables with row counts, and the run's record.

Run by ``make demo`` after the pipeline; also useful on its own::

    python analytics/warehouse_summary.py [--warehouse PATH] [--metadata-url URL]

Reads the DuckDB warehouse (``WAREHOUSE_DUCKDB_PATH``, default ``.orchestra_local/warehouse.duckdb``)
read-only, and the runner's metadata store (``ORCHESTRA_LOCAL_METADATA_URL``, default the SQLite file
under ``.orchestra_local/``). Exits 1 when either is missing.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table

from orchestra_local.store import RunStore

REPO_ROOT = Path(__file__).resolve().parents[1]
STATE = Path(os.environ.get("ORCHESTRA_LOCAL_HOME", REPO_ROOT / ".orchestra_local"))


def warehouse_table(path: Path) -> Table:
    """Every table and view of the warehouse outside DuckDB's own schemas, with its row count.

    ``marked deleted``: rows the ingestion worker marked with ``_deleted_at`` (their key is gone
    from the source; the staging models leave them out), blank for tables without that column.
    """
    table = Table(title=f"warehouse {path}", title_justify="left")
    for column in ("schema", "table", "type", "rows", "marked deleted"):
        table.add_column(column, justify="right" if column in ("rows", "marked deleted") else "left")
    with duckdb.connect(str(path), read_only=True) as connection:
        relations = connection.execute(
            "select table_schema, table_name, table_type from information_schema.tables "
            "where table_schema not in ('information_schema', 'pg_catalog') order by 1, 2"
        ).fetchall()
        marked = {(schema, name) for schema, name in connection.execute(
            "select table_schema, table_name from information_schema.columns where column_name = '_deleted_at'"
        ).fetchall()}
        for schema, name, kind in relations:
            relation = f'"{schema}"."{name}"'
            if (schema, name) in marked:
                rows, deleted = connection.execute(
                    f"select count(*), count(*) filter (where _deleted_at is not null) from {relation}").fetchone()
            else:
                (rows,), deleted = connection.execute(f"select count(*) from {relation}").fetchone(), None
            table.add_row(schema, name, "view" if kind == "VIEW" else "table", f"{rows:,}",
                          "" if deleted is None else f"{deleted:,}")
    return table


def main() -> int:
    """Print the summary; 1 when the warehouse or the metadata store is missing."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", type=Path,
                        default=Path(os.environ.get("WAREHOUSE_DUCKDB_PATH", STATE / "warehouse.duckdb")))
    parser.add_argument("--metadata-url",
                        default=os.environ.get("ORCHESTRA_LOCAL_METADATA_URL", f"sqlite:///{STATE / 'metadata.db'}"))
    args = parser.parse_args()
    console = Console()
    if not args.warehouse.is_file():
        console.print(f"[red]Error:[/] no warehouse at {args.warehouse}; run `make demo` first")
        return 1
    console.print(warehouse_table(args.warehouse))
    runs = RunStore(args.metadata_url).list_pipeline_runs(limit=1)
    if not runs:
        console.print(f"[red]Error:[/] no pipeline run in {args.metadata_url}")
        return 1
    run = runs[0]
    console.print(
        f"last pipeline run: {run['id']} ({run['pipeline_name']}) {run['run_status']}: {run['message']}\n"
        f"see its task runs with: .venv/bin/orchestra-local runs {run['id']}",
        highlight=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
