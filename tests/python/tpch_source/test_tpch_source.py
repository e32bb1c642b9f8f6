"""The TPC-H demo source: counts, declared types and keys, idempotence and atomic rebuilds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from tpch_source.build import build_source
from tpch_source.schema import PRIMARY_KEYS, TABLES

PYTHON_DIR = Path(__file__).resolve().parents[3] / "python"
SF_001_COUNTS = {
    "region": 5,
    "nation": 25,
    "supplier": 100,
    "customer": 1500,
    "part": 2000,
    "partsupp": 8000,
    "orders": 15000,
    "lineitem": 60175,
}


def reflected(url: str, schema: str | None) -> dict[str, Any]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        inspector = sa.inspect(engine)
        return {
            "keys": {
                t: tuple(inspector.get_pk_constraint(t, schema)["constrained_columns"])
                for t in TABLES
            },
            "lineitem": {
                c["name"]: str(c["type"]) for c in inspector.get_columns("lineitem", schema)
            },
            "nullable": any(c["nullable"] for c in inspector.get_columns("orders", schema)),
        }
    finally:
        engine.dispose()


def assert_declared_schema(url: str, schema: str | None) -> None:
    found = reflected(url, schema)
    assert found["keys"] == dict(PRIMARY_KEYS)
    assert not found["nullable"]
    lineitem = found["lineitem"]
    assert lineitem["l_orderkey"] == "BIGINT"
    assert lineitem["l_extendedprice"] == "NUMERIC(15, 2)"
    assert lineitem["l_shipdate"] == "DATE"
    assert lineitem["l_comment"] == "VARCHAR"


def test_cli_builds_sqlite_once_and_then_does_nothing(run_worker: Any, tmp_path: Path) -> None:
    target = tmp_path / "state" / "tpch.sqlite"
    env = {"TPCH_SOURCE_URL": f"sqlite:///{target}"}

    first = run_worker("tpch_source", "--scale-factor", "0.01", env=env)
    assert first.returncode == 0, first.stderr
    assert first.summary["row_counts"] == SF_001_COUNTS
    assert first.summary["rebuilt"] is True
    assert first.summary["scale_factor"] == 0.01
    inode, mtime = target.stat().st_ino, target.stat().st_mtime_ns

    second = run_worker("tpch_source", "--scale-factor", "0.01", env=env)
    assert second.returncode == 0, second.stderr
    assert second.summary["rebuilt"] is False
    assert second.summary["row_counts"] == SF_001_COUNTS
    assert "already holds TPC-H SF 0.01; nothing to do" in second.stderr
    assert (target.stat().st_ino, target.stat().st_mtime_ns) == (inode, mtime)
    assert sorted(p.name for p in target.parent.iterdir()) == ["tpch.sqlite"]
    assert_declared_schema(f"sqlite:///{target}", None)


def test_a_new_scale_factor_replaces_the_sqlite_file(tmp_path: Path) -> None:
    url = make_url(f"sqlite:///{tmp_path / 'tpch.sqlite'}")
    build_source(url, 0.01, None, 50_000)

    result = build_source(url, 0.02, None, 50_000)

    assert result.rebuilt
    assert result.row_counts["orders"] == 30_000
    assert not build_source(url, 0.02, None, 50_000).rebuilt
    assert build_source(url, 0.02, None, 50_000, force=True).rebuilt


def test_a_killed_rebuild_leaves_the_old_data_in_place(run_worker: Any, tmp_path: Path) -> None:
    target = tmp_path / "tpch.sqlite"
    env = {"TPCH_SOURCE_URL": f"sqlite:///{target}"}
    assert run_worker("tpch_source", "--scale-factor", "0.01", env=env).returncode == 0
    process = subprocess.Popen(
        [sys.executable, "-m", "tpch_source", "--scale-factor", "0.1", "--batch-size", "1000"],
        cwd=PYTHON_DIR,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while largest_build_file(tmp_path) < 1_000_000:
            assert time.monotonic() < deadline, "the rebuild never started writing"
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    engine = sa.create_engine(f"sqlite:///{target}", poolclass=sa.NullPool)
    with engine.connect() as connection:
        orders = connection.execute(sa.text("SELECT count(*) FROM orders")).scalar()
        recorded = connection.execute(sa.text("SELECT scale_factor FROM tpch_metadata")).scalar()
    engine.dispose()
    assert (orders, recorded) == (15_000, 0.01)
    assert list(tmp_path.glob(".tpch.sqlite.build-*"))  # the killed build's file, unread

    rerun = run_worker("tpch_source", "--scale-factor", "0.01", env=env)
    assert rerun.summary["rebuilt"] is False
    assert list(tmp_path.glob(".tpch.sqlite.build-*")) == []


def largest_build_file(folder: Path) -> int:
    """Size of the largest temporary database of a build (its journal may come and go)."""
    sizes = [0]
    for path in folder.glob(".tpch.sqlite.build-*"):
        if path.name.endswith("-journal"):
            continue
        try:
            sizes.append(path.stat().st_size)
        except FileNotFoundError:
            continue
    return max(sizes)


@pytest.mark.postgres
def test_postgres_build_is_idempotent(run_worker: Any, postgres_schema: Any) -> None:
    env = {"PG_URL": postgres_schema.url}
    args = ("--scale-factor", "0.01", "--url-env", "PG_URL", "--schema", postgres_schema.schema)

    first = run_worker("tpch_source", *args, env=env)
    assert first.returncode == 0, first.stderr
    assert first.summary["row_counts"] == SF_001_COUNTS
    second = run_worker("tpch_source", *args, env=env)
    assert second.summary["rebuilt"] is False
    assert_declared_schema(postgres_schema.url, postgres_schema.schema)
    # Analysed, as autovacuum would (this server runs without it): readers plan on relpages.
    engine = sa.create_engine(postgres_schema.url, poolclass=sa.NullPool)
    with engine.connect() as connection:
        pages = connection.execute(sa.text("SELECT relname, relpages FROM pg_class WHERE relnamespace = "
                                           "to_regnamespace(:schema) AND relkind = 'r'"),
                                   {"schema": postgres_schema.schema}).all()
    engine.dispose()
    assert {name for name, count in pages if count > 0} >= {"lineitem", "orders", "customer"}, pages


@pytest.mark.parametrize(
    ("args", "env", "code", "fragment"),
    [
        pytest.param([], {}, 1, "environment variable TPCH_SOURCE_URL is not set", id="unset"),
        pytest.param(
            ["--schema", "s"], {"TPCH_SOURCE_URL": "sqlite:///{tmp}/x.sqlite"}, 2,
            "--schema applies to PostgreSQL targets only", id="schema-on-sqlite",
        ),
        pytest.param(
            [], {"TPCH_SOURCE_URL": "sqlite://"}, 2, "the SQLite target must be a file",
            id="in-memory",
        ),
        pytest.param(
            [], {"TPCH_SOURCE_URL": "mysql://u:secret@h/db"}, 2, "unsupported target", id="mysql"
        ),
        pytest.param(["--scale-factor", "0"], {}, 2, "must be positive", id="zero-scale"),
    ],
)  # fmt: skip
def test_errors_are_one_line(
    run_worker: Any, tmp_path: Path, args: list[str], env: dict[str, str], code: int, fragment: str
) -> None:
    env = {key: value.format(tmp=tmp_path) for key, value in env.items()}

    run = run_worker("tpch_source", *args, env=env)

    assert run.returncode == code, run.stderr
    assert fragment in run.stderr
    assert "Traceback" not in run.stderr
    assert "secret" not in run.stderr
