r"""Ingestion throughput: TPC-H lineitem from SQLite and PostgreSQL into DuckDB and PostgreSQL.

For each source, runs in turn (each in its own subprocess, repeated, interleaved):
  cursor-fetch          a bare fetchmany loop over the SQLAlchemy driver (ingest_contenders.py)
  adbc-fetch            a bare fetch of Arrow batches through the ADBC driver
  scanner               DuckDB's own sqlite/postgres scanner into a fresh DuckDB file, decimals cast
  adbc-duckdb           ADBC's Arrow stream into a fresh DuckDB file, decimals cast
  worker                our worker, exactly as Orchestra runs it: python -m ingest in python/,
                        into a fresh DuckDB file (--reader auto)
  worker-adbc           the same with --reader adbc (staged to Parquet)
  worker-sqlalchemy     the same with --reader sqlalchemy (staged to Parquet)
  worker-postgres       --destination postgres (--reader auto), into a fresh PostgreSQL schema
  worker-postgres-sqlalchemy  the same with --reader sqlalchemy
  dlt-pyarrow           dlt's sql_database source, pyarrow backend, into a fresh DuckDB file
  dlt-connectorx        the same with dlt's connectorx backend (ConnectorX reads into Arrow in Rust)
  dlt-sqlalchemy        the same with dlt's default sqlalchemy backend (slow: one run only,
                        see --single-run; not in the default list)
  dlt-pyarrow-postgres  dlt, pyarrow backend, into a fresh PostgreSQL schema (COPY from CSV)
and reports wall time (interpreter start to exit), rows/s and the child's peak RSS
(ru_maxrss from os.wait4). Every load goes into a fresh warehouse with write disposition
replace and is checked: exactly the source's row count, the exact sum of --check-column
(a DECIMAL column) and that column's type as landed. "x fastest" compares with the fastest
contender of the same run that landed the table correctly (fetch-only contenders land nothing).
The PostgreSQL destination is the server the PostgreSQL source lives on (TEST_POSTGRES_URL): on
one machine they share the CPUs.

Sources are generated once with python -m tpch_source and cached under the work directory
(SQLite file) and in PostgreSQL (schema bench_tpch_sf<SF>).

examples:
  .venv/bin/python benchmarks/ingest_throughput.py                      # SF 1, 3 runs each
  .venv/bin/python benchmarks/ingest_throughput.py --scale-factor 0.1 --repeat 1 \
      --sources sqlite --output /tmp/quick.md
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from benchmark_report import Measurement, machine_description, render_report
from salesforce_contender import replace_section, salesforce_section

REPO = Path(__file__).resolve().parents[1]
PYTHON_DIR = REPO / "python"
CONTENDERS_SCRIPT = Path(__file__).resolve().parent / "ingest_contenders.py"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
URL_VARIABLE = "BENCH_SOURCE_URL"
DESTINATION_URL_VARIABLE = "BENCH_DESTINATION_URL"
CONTENDERS = (
    "cursor-fetch", "adbc-fetch", "scanner", "adbc-duckdb", "worker", "worker-adbc", "worker-sqlalchemy",
    "worker-postgres", "worker-postgres-sqlalchemy", "dlt-pyarrow", "dlt-connectorx", "dlt-sqlalchemy",
    "dlt-pyarrow-postgres",
)  # fmt: skip
DEFAULT_CONTENDERS = tuple(c for c in CONTENDERS if c != "dlt-sqlalchemy")  # 20+ minutes per run at SF 1
FETCH_ONLY = ("cursor-fetch", "adbc-fetch")


@dataclass(frozen=True)
class Source:
    """A generated TPC-H source."""

    name: str
    url: str
    schema: str | None


def prepare_sources(
    names: Sequence[str], scale_factor: float, work_dir: Path, postgres_url: str
) -> list[Source]:
    """Generate (or reuse) the TPC-H sources with ``python -m tpch_source``.

    Raises:
        SystemExit: If generation fails.
    """
    slug = f"{scale_factor:g}".replace(".", "_")
    sources = []
    for name in names:
        if name == "sqlite":
            source = Source(name, f"sqlite:///{work_dir / f'tpch_sf{slug}.sqlite'}", None)
        else:
            source = Source(name, postgres_url, f"bench_tpch_sf{slug}")
        schema = ["--schema", source.schema] if source.schema else []
        command = [sys.executable, "-m", "tpch_source", "--scale-factor", f"{scale_factor:g}",
                   "--url-env", URL_VARIABLE, *schema]  # fmt: skip
        print(f"preparing {name} source (TPC-H SF {scale_factor:g}) ...", file=sys.stderr)
        env = {**os.environ, URL_VARIABLE: source.url}
        done = subprocess.run(
            command, cwd=PYTHON_DIR, env=env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise SystemExit(f"Error: generating the {name} source failed: {done.stderr.strip()}")
        sources.append(source)
    return sources


def count_rows(source: Source, table: str) -> int:
    """Rows of the table in the source."""
    engine = sa.create_engine(source.url, poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            query = sa.select(sa.func.count()).select_from(sa.table(table, schema=source.schema))
            return int(connection.execute(query).scalar_one())
    finally:
        engine.dispose()


def contender_command(
    contender: str, source: Source, table: str, run_dir: Path, destination_schema: str
) -> list[str]:
    """The command line of one contender; PostgreSQL contenders load ``destination_schema``."""
    schema = ["--schema", source.schema] if source.schema else []
    if contender.startswith("worker"):
        command = [sys.executable, "-m", "ingest", "--source", "sql", *schema, "--table", table,
                   "--write-disposition", "replace", "--quiet"]  # fmt: skip
        reader = contender.rsplit("-", 1)[-1]
        if reader in ("adbc", "sqlalchemy"):
            command += ["--reader", reader]
        if contender.startswith("worker-postgres"):
            command += ["--destination", "postgres", "--destination-url-env",
                        DESTINATION_URL_VARIABLE, "--destination-schema", destination_schema]  # fmt: skip
        return command
    name = "dlt" if contender.startswith("dlt-") else contender
    command = [sys.executable, str(CONTENDERS_SCRIPT), name, "--url-env", URL_VARIABLE, *schema,
               "--table", table]  # fmt: skip
    if contender in ("scanner", "adbc-duckdb"):
        command += ["--work-dir", str(run_dir)]
    if contender.startswith("dlt-"):
        command += ["--backend", contender.split("-")[1], "--work-dir", str(run_dir)]
        if contender.endswith("-postgres"):
            command += ["--postgres-url-env", DESTINATION_URL_VARIABLE,
                        "--dataset", destination_schema]  # fmt: skip
    return command


def lands_in_postgres(contender: str) -> bool:
    """Whether a contender loads a PostgreSQL schema (else a DuckDB file, or nothing)."""
    return contender.endswith("-postgres") or contender.startswith("worker-postgres")


def expected_sum(source: Source, table: str, column: str) -> Decimal:
    """The exact sum of a two-decimal column in the source (SQLite stores REALs: summed in cents)."""
    engine = sa.create_engine(source.url, poolclass=sa.NullPool)
    name = f'"{source.schema}"."{table}"' if source.schema else f'"{table}"'
    try:
        with engine.connect() as connection:
            if source.name == "sqlite":
                cents = connection.execute(sa.text(f'SELECT sum(CAST(round("{column}" * 100) AS INTEGER)) FROM {name}'))
                return Decimal(int(cents.scalar_one())) / 100
            return Decimal(str(connection.execute(sa.text(f'SELECT sum("{column}") FROM {name}')).scalar_one()))
    finally:
        engine.dispose()


def landed_check(contender: str, run_dir: Path, destination_schema: str, postgres_url: str, table: str,
                 column: str) -> tuple[Decimal | None, str | None]:
    """``(exact sum of column, its type)`` in the table a contender landed; (None, None) if it lands nothing."""
    if contender in FETCH_ONLY:
        return None, None
    if lands_in_postgres(contender):
        engine = sa.create_engine(postgres_url, poolclass=sa.NullPool)
        try:
            with engine.connect() as connection:
                total = connection.execute(sa.text(f'SELECT sum("{column}")::text FROM "{destination_schema}"."{table}"'))
                kind = connection.execute(sa.text(
                    "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) "
                    "AND attname = :c"), {"t": f'"{destination_schema}"."{table}"', "c": column})
                return Decimal(total.scalar_one()), str(kind.scalar_one())
        finally:
            engine.dispose()
    import duckdb

    connection = duckdb.connect(str(run_dir / "warehouse.duckdb"), read_only=True)
    try:
        total, = connection.execute(f'SELECT CAST(sum("{column}") AS VARCHAR) FROM raw."{table}"').fetchone()
        kind, = connection.execute(f"SELECT data_type FROM information_schema.columns WHERE table_schema = 'raw' "
                                   f"AND table_name = '{table}' AND column_name = '{column}'").fetchone()
        return Decimal(total), str(kind)
    finally:
        connection.close()


def rows_landed(contender: str, stdout: str) -> int:
    """Rows the contender reports: the worker's rows_written, the others' rows."""
    summary = json.loads(stdout.strip().splitlines()[-1])
    return int(summary["rows_written" if contender.startswith("worker") else "rows"])


def drop_schemas(postgres_url: str, prefix: str) -> None:
    """Drop the PostgreSQL schemas a contender loaded (dlt adds ``<dataset>_staging``)."""
    engine = sa.create_engine(postgres_url, poolclass=sa.NullPool)
    try:
        with engine.begin() as connection:
            names = connection.execute(
                sa.text("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, :prefix)"),
                {"prefix": prefix},
            ).scalars()
            for name in list(names):
                connection.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
    finally:
        engine.dispose()


def measure(
    contender: str, source: Source, table: str, run_dir: Path, postgres_url: str, check_column: str
) -> Measurement:
    """Run one contender once in a fresh directory (and, for PostgreSQL destinations, a fresh
    schema, dropped afterwards); wall time and peak RSS of the child."""
    destination_schema = f"bench_load_{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        URL_VARIABLE: source.url,
        DESTINATION_URL_VARIABLE: postgres_url,
        "SOURCE_DATABASE_URL": source.url,
        "WAREHOUSE_DUCKDB_PATH": str(run_dir / "warehouse.duckdb"),
        "TMPDIR": str(run_dir),  # the postgres destination stages here
        "RUNTIME__DLTHUB_TELEMETRY": "false",
    }
    stdout_path, stderr_path = run_dir / "stdout.txt", run_dir / "stderr.txt"
    try:
        with stdout_path.open("w") as stdout, stderr_path.open("w") as stderr:
            started = time.perf_counter()
            process = subprocess.Popen(
                contender_command(contender, source, table, run_dir, destination_schema),
                cwd=PYTHON_DIR, env=env, stdout=stdout, stderr=stderr,
            )  # fmt: skip
            _, status, usage = os.wait4(process.pid, 0)
            seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        peak_rss = usage.ru_maxrss * 1024  # Linux reports KiB
        if process.returncode != 0:
            error = stderr_path.read_text().strip().splitlines()[-1:] or ["no output"]
            return Measurement(source.name, contender, seconds, 0, peak_rss, error[0])
        total, kind = landed_check(contender, run_dir, destination_schema, postgres_url, table, check_column)
    finally:
        if lands_in_postgres(contender):
            drop_schemas(postgres_url, destination_schema)
    return Measurement(source.name, contender, seconds, rows_landed(contender, stdout_path.read_text()), peak_rss,
                       landed_sum=total, landed_type=kind)


def build_parser() -> argparse.ArgumentParser:
    """The benchmark's command-line parser; the module docstring is its epilog."""
    parser = argparse.ArgumentParser(
        description="Measure ingestion throughput of the worker against dlt and a bare fetch.",
        epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--scale-factor", type=float, default=1.0, help="TPC-H SF (default: 1)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per contender (default: 3)")
    parser.add_argument("--table", default="lineitem", help="table to load (default: lineitem)")
    parser.add_argument("--sources", default="sqlite,postgres", help="default: sqlite,postgres")
    parser.add_argument(
        "--contenders", default=",".join(DEFAULT_CONTENDERS),
        help=f"default: {','.join(DEFAULT_CONTENDERS)}; also: dlt-sqlalchemy",
    )  # fmt: skip
    parser.add_argument(
        "--check-column", default="l_extendedprice",
        help="a DECIMAL(p,2) column whose exact sum and landed type every load is checked on",
    )  # fmt: skip
    parser.add_argument(
        "--single-run", default="dlt-sqlalchemy", metavar="CONTENDERS",
        help="contenders run in the first repetition only (default: dlt-sqlalchemy, which "
        "takes about 20 minutes per run at SF 1)",
    )  # fmt: skip
    parser.add_argument(
        "--work-dir", type=Path, default=REPO / ".orchestra_local" / "bench",
        help="cache of generated sources and scratch space (default: .orchestra_local/bench)",
    )  # fmt: skip
    parser.add_argument(
        "--postgres-url-env", default="TEST_POSTGRES_URL", metavar="VAR",
        help=f"variable holding the PostgreSQL URL (default: TEST_POSTGRES_URL, "
        f"else {DEFAULT_POSTGRES_URL})",
    )  # fmt: skip
    parser.add_argument(
        "--output", type=Path, default=Path(__file__).resolve().parent / "results"
        / "ingest_throughput.md", help="Markdown report (default: benchmarks/results/...)",
    )  # fmt: skip
    # --- Salesforce (loopback test org, Bulk API 2.0 and REST): see salesforce_contender.py ---
    parser.add_argument(
        "--salesforce-rows", type=int, default=0, metavar="N",
        help="also measure the salesforce source on N test-org Opportunity records; 0 (default) keeps "
        "the report's previous Salesforce section",
    )  # fmt: skip
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and write the report; exit 1 if any load failed."""
    args = build_parser().parse_args(argv)
    postgres_url = os.environ.get(args.postgres_url_env) or DEFAULT_POSTGRES_URL
    contenders = args.contenders.split(",")
    unknown = sorted(set(contenders) - set(CONTENDERS))
    if unknown:
        raise SystemExit(f"Error: unknown contenders {', '.join(unknown)}; known: {', '.join(CONTENDERS)}")
    single_run = set(args.single_run.split(","))
    args.work_dir.mkdir(parents=True, exist_ok=True)
    load_at_start = os.getloadavg()[0]
    sources = prepare_sources(
        args.sources.split(","), args.scale_factor, args.work_dir, postgres_url
    )
    measurements: list[Measurement] = []
    expected: dict[str, int] = {}
    sums: dict[str, Decimal] = {}
    for source in sources:
        expected[source.name] = count_rows(source, args.table)
        sums[source.name] = expected_sum(source, args.table, args.check_column)
        for run in range(1, args.repeat + 1):
            for contender in contenders:
                if run > 1 and contender in single_run:
                    continue
                run_dir = Path(tempfile.mkdtemp(dir=args.work_dir, prefix="run-"))
                try:
                    result = measure(contender, source, args.table, run_dir, postgres_url, args.check_column)
                finally:
                    shutil.rmtree(run_dir, ignore_errors=True)
                if result.error is None and result.rows != expected[source.name]:
                    result = result.failed(f"landed {result.rows:,} rows, expected "
                                           f"{expected[source.name]:,}")  # fmt: skip
                result = result.checked(sums[source.name])
                measurements.append(result)
                print(
                    f"{source.name:8} {contender:20} run {run}: {result.describe()}",
                    file=sys.stderr,
                    flush=True,
                )
    machine = [
        *machine_description(postgres_url),
        f"- Load average (1 min) at start / end: {load_at_start:.2f} / {os.getloadavg()[0]:.2f} "
        "(other processes on the machine add noise)",
    ]
    report = render_report(measurements, machine, args.table, args.scale_factor, expected, args.check_column)
    # --- Salesforce section: measured with --salesforce-rows, else carried over unchanged ---
    salesforce, salesforce_ok = salesforce_section(args.output, args.salesforce_rows, args.repeat, args.work_dir)
    report = replace_section(report, salesforce) if salesforce else report
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)
    print(f"report written to {args.output}", file=sys.stderr)
    return 1 if any(m.error for m in measurements) or not salesforce_ok else 0


if __name__ == "__main__":
    sys.exit(main())
