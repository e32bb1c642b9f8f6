r"""The reference loads the ingestion benchmark compares our worker with, one per subprocess.

  cursor-fetch  a bare fetch of every row through the SQLAlchemy driver's cursor (fetchmany loop,
         nothing else; builds the driver's Python objects): the floor of a DBAPI-based reader.
  adbc-fetch    a bare fetch of every row as Arrow batches through the ADBC driver (nothing else).
  scanner       DuckDB's own sqlite/postgres scanner into ``warehouse.duckdb`` in ``--work-dir``
         (``CREATE TABLE AS SELECT``), decimal columns cast to the source's declared
         ``DECIMAL(p,s)`` (SQLite's scanner alone lands DOUBLE).
  adbc-duckdb   the ADBC driver's Arrow stream into ``warehouse.duckdb``, with the same casts.
  dlt    dlt's ``sql_database`` source (``sql_table``) with the ``pyarrow``, ``connectorx`` or
         ``sqlalchemy`` backend (``--backend``), into ``warehouse.duckdb`` in ``--work-dir``
         or, with ``--postgres-url-env``, a PostgreSQL schema (``--dataset``; loaded with COPY
         from CSV files, the fastest format dlt's postgres destination takes), with the same
         write disposition as the worker run. dlt's pipeline state goes to ``--work-dir``.

Each prints one JSON line ``{"rows": N}`` on success (rows fetched or landed). Run by ``ingest_throughput.py``; by hand:

  BENCH_URL=sqlite:///.orchestra_local/bench/tpch_sf1.sqlite \
      python benchmarks/ingest_contenders.py cursor-fetch --url-env BENCH_URL --table lineitem
  python benchmarks/ingest_contenders.py dlt --backend sqlalchemy --url-env BENCH_URL \
      --table lineitem --work-dir /tmp/bench
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
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


def _duckdb_extension(backend: str) -> str:
    """The scanner extension file the worker's requirements ship (no download)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
    from ingest.sources.sql_scanner import extension_path

    return str(extension_path(backend))


def _decimal_casts(url: URL, schema: str | None, table: str) -> list[tuple[str, str | None]]:
    """``(column, DuckDB cast or None)`` per column: declared NUMERIC(p,s) columns get DECIMAL(p,s)."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        columns = sa.inspect(engine).get_columns(table, schema)
    finally:
        engine.dispose()
    casts = []
    for column in columns:
        kind = column["type"]
        exact = isinstance(kind, sa.Numeric) and not isinstance(kind, sa.Float) and kind.precision
        casts.append((column["name"], f"DECIMAL({kind.precision}, {kind.scale or 0})" if exact else None))
    return casts


def _select_list(casts: list[tuple[str, str | None]]) -> str:
    return ", ".join(f'CAST("{name}" AS {cast}) AS "{name}"' if cast else f'"{name}"' for name, cast in casts)


def load_with_scanner(url: URL, schema: str | None, table: str, work_dir: Path) -> int:
    """DuckDB's own scanner into a fresh DuckDB file; rows landed."""
    import duckdb

    backend = url.get_backend_name()
    connection = duckdb.connect(str(work_dir / "warehouse.duckdb"), config={"preserve_insertion_order": False})
    try:
        connection.load_extension(_duckdb_extension(backend))
        if backend == "sqlite":
            connection.execute(f"ATTACH '{url.database}' AS src (TYPE sqlite, READ_ONLY)")
            relation = f'src."{table}"'
        else:
            libpq = f"host={url.host} port={url.port or 5432} dbname={url.database} user={url.username}"
            connection.execute(f"ATTACH '{libpq}' AS src (TYPE postgres, READ_ONLY)")
            relation = f'src."{schema or "public"}"."{table}"'
        select = _select_list(_decimal_casts(url, schema, table))
        connection.execute("CREATE SCHEMA raw")
        connection.execute(f'CREATE TABLE raw."{table}" AS SELECT {select} FROM {relation}')
        return int(connection.execute(f'SELECT count(*) FROM raw."{table}"').fetchone()[0])
    finally:
        connection.close()


def _adbc_cursor(url: URL, schema: str | None, table: str):  # noqa: ANN202 - an ADBC DBAPI cursor
    """An ADBC cursor that has run ``SELECT * FROM <table>``."""
    if url.get_backend_name() == "sqlite":
        import adbc_driver_sqlite.dbapi as driver

        connection = driver.connect(str(url.database))
        cursor = connection.cursor()
        cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(BATCH_SIZE)})
        cursor.execute(f'SELECT * FROM "{table}"')
    else:
        import adbc_driver_postgresql.dbapi as driver

        connection = driver.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
        cursor = connection.cursor()
        cursor.execute(f'SELECT * FROM "{schema or "public"}"."{table}"')
    return cursor


def fetch_adbc(url: URL, schema: str | None, table: str) -> int:
    """Fetch every row as Arrow batches through ADBC and discard them; rows fetched."""
    cursor = _adbc_cursor(url, schema, table)
    return sum(batch.num_rows for batch in cursor.fetch_record_batch())


def load_with_adbc(url: URL, schema: str | None, table: str, work_dir: Path) -> int:
    """ADBC's Arrow stream into a fresh DuckDB file, decimals cast; rows landed."""
    import duckdb
    import pyarrow as pa

    cursor = _adbc_cursor(url, schema, table)
    batches = cursor.fetch_record_batch()
    # ADBC hands PostgreSQL numerics over as text in an extension type; DuckDB reads its storage.
    plain = pa.schema([pa.field(f.name, f.type.storage_type if isinstance(f.type, pa.ExtensionType) else f.type)
                       for f in batches.schema])
    stream = pa.RecordBatchReader.from_batches(plain, (
        pa.RecordBatch.from_arrays([c.storage if isinstance(c.type, pa.ExtensionType) else c for c in b.columns],
                                   schema=plain) for b in batches))
    connection = duckdb.connect(str(work_dir / "warehouse.duckdb"), config={"preserve_insertion_order": False})
    try:
        connection.register("adbc_stream", stream)
        connection.execute("CREATE SCHEMA raw")
        select = _select_list(_decimal_casts(url, schema, table))
        connection.execute(f'CREATE TABLE raw."{table}" AS SELECT {select} FROM adbc_stream')
        return int(connection.execute(f'SELECT count(*) FROM raw."{table}"').fetchone()[0])
    finally:
        connection.close()


@dataclass(frozen=True)
class DltTarget:
    """Where a dlt contender loads.

    Attributes:
        work_dir: Holds dlt's pipeline state, and the DuckDB file when ``postgres_url`` is None.
        postgres_url: Load into this PostgreSQL database instead of DuckDB.
        dataset: Destination schema.
    """

    work_dir: Path
    postgres_url: URL | None = None
    dataset: str = "raw"


def load_with_dlt(
    url: URL, schema: str | None, table: str, target: DltTarget, write_disposition: str,
    backend: str,
) -> int:  # fmt: skip
    """Load a table with dlt's ``sql_table`` and count the rows that landed.

    Args:
        url: Source URL.
        schema: Schema of the table, or None.
        table: Table name.
        target: Where to load.
        write_disposition: dlt write disposition (``replace``, ``append``, ``merge``).
        backend: ``pyarrow`` or ``sqlalchemy``.

    Returns:
        Rows in the loaded table.
    """
    from dlt.sources.sql_database import sql_table

    import dlt

    resource = sql_table(
        credentials=url.render_as_string(hide_password=False),
        table=table,
        schema=schema,
        backend=backend,  # type: ignore[arg-type]
        chunk_size=BATCH_SIZE,
    )
    file_format = None
    if target.postgres_url is not None:
        # dlt's postgres destination uses psycopg2, which a plain postgresql:// URL selects. It
        # insists on a password; with trust authentication (the local test server) any will do.
        credentials = target.postgres_url.set(
            drivername="postgresql", password=target.postgres_url.password or "unused"
        )
        destination = dlt.destinations.postgres(credentials.render_as_string(hide_password=False))
        file_format = "csv"
    else:
        destination = dlt.destinations.duckdb(str(target.work_dir / "warehouse.duckdb"))
    pipeline = dlt.pipeline(
        pipeline_name="ingest_benchmark",
        destination=destination,
        dataset_name=target.dataset,
        pipelines_dir=str(target.work_dir / "dlt_pipelines"),
    )
    pipeline.run(resource, write_disposition=write_disposition, loader_file_format=file_format)
    with pipeline.sql_client() as client:
        rows = client.execute_sql(f'SELECT count(*) FROM "{target.dataset}"."{table}"')
    return int(rows[0][0]) if rows else 0


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
    parser.add_argument("contender", choices=["cursor-fetch", "adbc-fetch", "scanner", "adbc-duckdb", "dlt"])
    parser.add_argument("--url-env", required=True, help="variable holding the source URL")
    parser.add_argument("--schema")
    parser.add_argument("--table", required=True)
    parser.add_argument("--backend", choices=["pyarrow", "sqlalchemy", "connectorx"], default="pyarrow",
                        help="dlt table backend (dlt only; default: pyarrow)")  # fmt: skip
    parser.add_argument("--work-dir", type=Path, help="the DuckDB file (and dlt's state)")
    parser.add_argument("--postgres-url-env", metavar="VAR",
                        help="variable holding the PostgreSQL URL to load instead (dlt only)")  # fmt: skip
    parser.add_argument("--dataset", default="raw", help="destination schema (dlt only)")
    parser.add_argument("--write-disposition", default="replace", help="(dlt only)")
    args = parser.parse_args(argv)
    url = source_url(args.url_env)
    if args.contender == "cursor-fetch":
        rows = fetch_floor(url, args.schema, args.table, BATCH_SIZE)
    elif args.contender == "adbc-fetch":
        rows = fetch_adbc(url, args.schema, args.table)
    elif args.contender in ("scanner", "adbc-duckdb"):
        if args.work_dir is None:
            parser.error(f"{args.contender} needs --work-dir")
        load = load_with_scanner if args.contender == "scanner" else load_with_adbc
        rows = load(url, args.schema, args.table, args.work_dir)
    else:
        if args.work_dir is None:
            parser.error("dlt needs --work-dir")
        postgres = source_url(args.postgres_url_env) if args.postgres_url_env else None
        target = DltTarget(args.work_dir, postgres, args.dataset)
        rows = load_with_dlt(
            url, args.schema, args.table, target, args.write_disposition, args.backend
        )
    print(json.dumps({"rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
