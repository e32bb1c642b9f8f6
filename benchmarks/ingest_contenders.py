r"""The reference loads the ingestion benchmark compares our worker with, one per subprocess.

  floor  a bare fetch of every row through the same DBAPI driver (fetchmany loop, nothing
         else): the fastest any Python ingestion over that driver can be.
  dlt    dlt's ``sql_database`` source (``sql_table``, pyarrow backend) into a DuckDB file,
         with the same write disposition as the worker run.

Each prints one JSON line ``{"rows": N}`` on success. Run by ``ingest_throughput.py``; by hand:

  BENCH_URL=sqlite:///.orchestra_local/bench/tpch_sf1.sqlite \
      python benchmarks/ingest_contenders.py floor --url-env BENCH_URL --table lineitem
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

BATCH_SIZE = 50_000


def source_url(variable: str) -> URL:
    """The source URL from an environment variable, with psycopg 3 for PostgreSQL.

    Raises:
        SystemExit: If the variable is unset.
    """
    raw = os.environ.get(variable)
    if not raw:
        raise SystemExit(f"Error: environment variable {variable} is not set")
    url = make_url(raw)
    return url.set(drivername="postgresql+psycopg") if url.drivername == "postgresql" else url


def fetch_floor(url: URL, schema: str | None, table: str, batch_size: int) -> int:
    """Fetch every row of a table with the driver's own cursor and discard it.

    Args:
        url: Source URL (SQLite or PostgreSQL).
        schema: Schema of the table, or None.
        table: Table name.
        batch_size: Rows per ``fetchmany``.

    Returns:
        Rows fetched.
    """
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    quote = engine.dialect.identifier_preparer.quote
    name = f"{quote(schema)}.{quote(table)}" if schema else quote(table)
    connection = engine.raw_connection()
    try:
        driver = connection.driver_connection
        # PostgreSQL: a named (server-side) cursor, as the worker uses; SQLite steps lazily.
        cursor = (
            driver.cursor(name="floor")
            if url.get_backend_name() == "postgresql"
            else (driver.cursor())
        )
        cursor.execute(f"SELECT * FROM {name}")
        rows = 0
        while batch := cursor.fetchmany(batch_size):
            rows += len(batch)
        cursor.close()
        return rows
    finally:
        connection.close()
        engine.dispose()


def load_with_dlt(
    url: URL, schema: str | None, table: str, warehouse: Path, write_disposition: str
) -> int:
    """Load a table with dlt's ``sql_table`` (pyarrow backend) into a DuckDB file.

    Args:
        url: Source URL.
        schema: Schema of the table, or None.
        table: Table name.
        warehouse: DuckDB file to create; dlt's pipeline state goes next to it.
        write_disposition: dlt write disposition (``replace``, ``append``, ``merge``).

    Returns:
        Rows in the loaded table.
    """
    import duckdb
    from dlt.sources.sql_database import sql_table

    import dlt

    resource = sql_table(
        credentials=url.render_as_string(hide_password=False),
        table=table,
        schema=schema,
        backend="pyarrow",
        chunk_size=BATCH_SIZE,
    )
    pipeline = dlt.pipeline(
        pipeline_name="ingest_benchmark",
        destination=dlt.destinations.duckdb(str(warehouse)),
        dataset_name="raw",
        pipelines_dir=str(warehouse.parent / "dlt_pipelines"),
    )
    pipeline.run(resource, write_disposition=write_disposition)
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        row = connection.execute(f'SELECT count(*) FROM raw."{table}"').fetchone()
    return int(row[0]) if row else 0


def main(argv: list[str] | None = None) -> int:
    """Run one contender; prints ``{"rows": N}``.

    Args:
        argv: Arguments without the program name.

    Returns:
        Exit code 0.
    """
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("contender", choices=["floor", "dlt"])
    parser.add_argument("--url-env", required=True, help="variable holding the source URL")
    parser.add_argument("--schema")
    parser.add_argument("--table", required=True)
    parser.add_argument("--warehouse", type=Path, help="DuckDB file (dlt only)")
    parser.add_argument("--write-disposition", default="replace", help="(dlt only)")
    args = parser.parse_args(argv)
    url = source_url(args.url_env)
    if args.contender == "floor":
        rows = fetch_floor(url, args.schema, args.table, BATCH_SIZE)
    else:
        if args.warehouse is None:
            parser.error("dlt needs --warehouse")
        rows = load_with_dlt(url, args.schema, args.table, args.warehouse, args.write_disposition)
    print(json.dumps({"rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
