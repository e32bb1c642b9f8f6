"""Measurements of the ingestion benchmark and their Markdown report."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import platform
import sqlite3
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from importlib.metadata import version

import sqlalchemy as sa

GIB = 1024**3
MIB = 1024**2
FASTEST_RATIO_GOAL = 1.2  # the worker within 1.2x of the fastest correct contender
DLT_SPEEDUP_GOAL = 5.0  # and at least 5x faster than dlt's pyarrow backend
POSTGRES_TO_POSTGRES_GOAL_SECONDS = 16.0  # 2x faster than 32 s (2026-11-21, SF 1 lineitem)


@dataclass(frozen=True)
class Measurement:
    """One run of one contender against one source."""

    source: str
    contender: str
    seconds: float
    rows: int
    peak_rss_bytes: int
    error: str | None = None
    landed_sum: Decimal | None = None  # exact sum of the checked column as landed; None: lands nothing
    landed_type: str | None = None  # the checked column's type as landed
    sum_exact: bool | None = None  # landed_sum == the source's sum (set by checked())

    def failed(self, error: str) -> Measurement:
        """The same measurement marked as failed."""
        return dataclasses.replace(self, error=error)

    def checked(self, expected_sum: Decimal) -> Measurement:
        """The measurement with ``sum_exact`` decided (None when the contender lands nothing)."""
        if self.landed_sum is None:
            return self
        return dataclasses.replace(self, sum_exact=self.landed_sum == expected_sum)

    @property
    def correct(self) -> bool:
        """Landed every row with the exact sum in an exact decimal type."""
        exact_type = (self.landed_type or "").upper().replace(" ", "") in ("DECIMAL(15,2)", "NUMERIC(15,2)")
        return self.error is None and bool(self.sum_exact) and exact_type

    def describe(self) -> str:
        """One line for progress output."""
        if self.error:
            return f"FAILED after {self.seconds:.1f}s: {self.error}"
        rate = self.rows / self.seconds
        rss = self.peak_rss_bytes / MIB
        return f"{self.seconds:.1f}s, {rate:,.0f} rows/s, peak RSS {rss:,.0f} MiB"


def machine_description(postgres_url: str | None) -> list[str]:
    """Lines describing the machine and the software versions."""
    return [
        f"- Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"- CPU: {_cpu_model()}, {os.cpu_count()} logical cores",
        f"- RAM: {_memory_total() / GIB:.1f} GiB",
        f"- OS: {platform.platform()}",
        f"- Python {sys.version.split()[0]}; "
        + ", ".join(
            f"{package} {version(package)}"
            for package in ("duckdb", "pyarrow", "SQLAlchemy", "psycopg", "dlt")
        ),
        f"- SQLite {sqlite3.sqlite_version}; {_postgres_version(postgres_url)}",
    ]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _memory_total() -> int:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _postgres_version(url: str | None) -> str:
    if not url:
        return "PostgreSQL not used"
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            return str(connection.execute(sa.text("SHOW server_version")).scalar()).join(
                ("PostgreSQL ", " (local, same machine)")
            )
    except sa.exc.OperationalError:
        return "PostgreSQL not reachable"
    finally:
        engine.dispose()


def render_report(
    measurements: Sequence[Measurement],
    machine: Sequence[str],
    table: str,
    scale_factor: float,
    expected_rows: dict[str, int],
    check_column: str = "l_extendedprice",
) -> str:
    """The Markdown report: machine, one table per source, goals met or missed."""
    lines = [
        "# Ingestion throughput",
        "",
        f"TPC-H `{table}` at scale factor {scale_factor:g} loaded into a fresh DuckDB file, or "
        "for the `-postgres` contenders a fresh schema of the PostgreSQL server the PostgreSQL "
        "source lives on (write disposition `replace`). Wall time is the child process from "
        "start to exit, interpreter start-up and imports included; rows/s uses the median run; "
        "peak RSS is the child's `ru_maxrss` (largest run). Every load is checked: row count, the "
        f"exact sum of `{check_column}` and its landed type; `x fastest` compares with the fastest "
        "contender into DuckDB of this run that landed the table correctly (fetch-only contenders "
        "land nothing). Generated by `benchmarks/ingest_throughput.py`.",
        "",
        "## Machine",
        "",
        *machine,
    ]
    goals: list[str] = []
    for source in dict.fromkeys(m.source for m in measurements):
        runs = [m for m in measurements if m.source == source]
        lines += ["", f"## {source} ({expected_rows[source]:,} rows)", ""]
        lines += _source_table(runs, check_column)
        goals += _goals(source, runs)
    lines += ["", "## Goals", "", *goals, ""]
    return "\n".join(lines)


def _median_seconds(runs: Sequence[Measurement], contender: str) -> float | None:
    ok = [m.seconds for m in runs if m.contender == contender and m.error is None]
    return statistics.median(ok) if ok else None


def _fastest_correct(runs: Sequence[Measurement]) -> tuple[str, float] | None:
    """The contender into DuckDB (and its median) that landed correctly in every run, fastest first."""
    medians = []
    for contender in dict.fromkeys(m.contender for m in runs if "postgres" not in m.contender):
        mine = [m for m in runs if m.contender == contender]
        if mine and all(m.correct for m in mine):
            medians.append((statistics.median(m.seconds for m in mine), contender))
    if not medians:
        return None
    seconds, contender = min(medians)
    return contender, seconds


def _check(mine: Sequence[Measurement]) -> tuple[str, str]:
    """The table's 'sum exact' and 'type' cells for one contender's runs."""
    if all(m.landed_sum is None for m in mine):
        return "n/a (fetch only)", "n/a"
    exact = "yes" if all(m.sum_exact for m in mine) else "NO"
    return exact, ", ".join(sorted({m.landed_type or "?" for m in mine}))


def _source_table(runs: Sequence[Measurement], check_column: str) -> list[str]:
    fastest = _fastest_correct(runs)
    lines = [
        f"| contender | runs ok | median s | min-max s | rows/s (median) | peak RSS MiB | x fastest | "
        f"`{check_column}` sum exact | landed type |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for contender in dict.fromkeys(m.contender for m in runs):
        mine = [m for m in runs if m.contender == contender]
        ok = [m for m in mine if m.error is None]
        median = _median_seconds(runs, contender)
        if median is None:
            lines.append(f"| {contender} | 0/{len(mine)} | failed: {mine[-1].error} | | | | | | |")
            continue
        spread = f"{min(m.seconds for m in ok):.1f}-{max(m.seconds for m in ok):.1f}"
        rate = ok[0].rows / median
        rss = max(m.peak_rss_bytes for m in ok) / MIB
        ratio = f"{median / fastest[1]:.2f}" if fastest else "n/a"
        exact, kind = _check(ok)
        lines.append(
            f"| {contender} | {len(ok)}/{len(mine)} | {median:.1f} | {spread} | {rate:,.0f} | "
            f"{rss:,.0f} | {ratio} | {exact} | {kind} |"
        )
    if fastest:
        lines += ["", f"Fastest correct contender into DuckDB: `{fastest[0]}` ({fastest[1]:.1f} s)."]
    return lines


def _goals(source: str, runs: Sequence[Measurement]) -> list[str]:
    goals = []
    worker = _median_seconds(runs, "worker")
    fastest = _fastest_correct(runs)
    if worker is not None and fastest is not None:
        ratio = worker / fastest[1]
        verdict = "met" if ratio <= FASTEST_RATIO_GOAL else "MISSED"
        goals.append(f"- {source}: worker within {FASTEST_RATIO_GOAL}x of the fastest correct contender "
                     f"({fastest[0]}): {verdict} ({ratio:.2f}x)")  # fmt: skip
    dlt = _median_seconds(runs, "dlt-pyarrow")
    if worker is not None and dlt is not None:
        verdict = "met" if dlt / worker >= DLT_SPEEDUP_GOAL else "MISSED"
        goals.append(f"- {source}: worker at least {DLT_SPEEDUP_GOAL:g}x faster than dlt-pyarrow: {verdict} "
                     f"({worker:.1f}s vs {dlt:.1f}s, {dlt / worker:.2f}x)")  # fmt: skip
    to_postgres, dlt_postgres = _median_seconds(runs, "worker-postgres"), _median_seconds(runs, "dlt-pyarrow-postgres")
    if to_postgres is not None and dlt_postgres is not None:
        verdict = "met" if to_postgres < dlt_postgres else "MISSED"
        goals.append(f"- {source}: worker-postgres ahead of dlt-pyarrow-postgres: {verdict} "
                     f"({to_postgres:.1f}s vs {dlt_postgres:.1f}s, {dlt_postgres / to_postgres:.2f}x)")  # fmt: skip
    if source == "postgres" and to_postgres is not None:
        verdict = "met" if to_postgres <= POSTGRES_TO_POSTGRES_GOAL_SECONDS else "MISSED"
        goals.append(f"- postgres: worker-postgres (PostgreSQL to PostgreSQL) at least 2x faster than 32 s: "
                     f"{verdict} ({to_postgres:.1f}s)")  # fmt: skip
    for ours in ("worker", "worker-postgres"):
        ok = [m.peak_rss_bytes for m in runs if m.contender == ours and m.error is None]
        if ok:
            verdict = "met" if max(ok) < GIB else "MISSED"
            goals.append(f"- {source}: {ours} peak RSS under 1 GiB: {verdict} "
                         f"({max(ok) / MIB:,.0f} MiB)")  # fmt: skip
    if not goals:
        return [f"- {source}: the worker did not complete; no goal can be judged."]
    return goals
