"""dlt/filesystem_pipeline.py: CSV and Parquet files in a landing folder -> DuckDB, incrementally."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

if TYPE_CHECKING:
    from tests.dlt.conftest import RunScript

pytestmark = pytest.mark.slow

SCRIPT = "filesystem_pipeline.py"
Query = Callable[[str], list[tuple[Any, ...]]]


def write_csv(folder: Path, name: str, rows: list[tuple[int, str, float]], age_seconds: float) -> Path:
    """Write ``rows`` as CSV with a header and set the file's modification time ``age_seconds`` ago."""
    path = folder / name
    path.write_text("order_id,status,amount\n" + "".join(f"{i},{s},{a}\n" for i, s, a in rows))
    stamp = time.time() - age_seconds
    os.utime(path, (stamp, stamp))
    return path


def test_each_run_loads_only_files_added_since_the_last_one(
    run_script: RunScript, tmp_path: Path, warehouse: Query
) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    write_csv(landing, "orders_1.csv", [(1, "new", 10.5), (2, "new", 20.0)], age_seconds=300)
    write_csv(landing, "orders_2.csv", [(3, "paid", 7.25)], age_seconds=200)
    (landing / "notes.txt").write_text("not a csv: never matched by the glob")
    args = ("--bucket-url", landing.as_uri(), "--file-glob", "orders_*.csv", "--table", "orders")

    first = run_script(SCRIPT, *args)
    assert first.returncode == 0, first.stderr
    assert first.summary["rows_written"] == 3 and first.summary["write_disposition"] == "append"

    unchanged = run_script(SCRIPT, *args)
    assert unchanged.returncode == 0, unchanged.stderr
    assert unchanged.summary["rows_written"] == 0 and unchanged.summary["load_id"] is None

    write_csv(landing, "orders_3.csv", [(4, "shipped", 1.5), (5, "new", 2.5)], age_seconds=0)
    third = run_script(SCRIPT, *args)
    assert third.returncode == 0, third.stderr
    assert third.summary["rows_written"] == 2
    assert warehouse("SELECT order_id, status, amount FROM raw_dlt.orders ORDER BY order_id") == [
        (1, "new", 10.5), (2, "new", 20.0), (3, "paid", 7.25), (4, "shipped", 1.5), (5, "new", 2.5)
    ]


def test_parquet_merge_upserts_on_the_primary_key(run_script: RunScript, tmp_path: Path, warehouse: Query) -> None:
    landing = tmp_path / "landing"
    (landing / "events").mkdir(parents=True)
    first = pa.table({"event_id": [1, 2], "kind": ["click", "view"]})
    pq.write_table(first, landing / "events" / "part-1.parquet")
    stamp = time.time() - 100
    os.utime(landing / "events" / "part-1.parquet", (stamp, stamp))
    args = ("--bucket-url", landing.as_uri(), "--file-glob", "events/*.parquet", "--table", "events",
            "--write-disposition", "merge", "--primary-key", "event_id")
    assert run_script(SCRIPT, *args).returncode == 0
    pq.write_table(pa.table({"event_id": [2, 3], "kind": ["purchase", "click"]}), landing / "events" / "part-2.parquet")

    # from another working directory: the script still reads dlt/.dlt/config.toml (dataset raw_dlt)
    result = run_script(SCRIPT, *args, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.summary["rows_written"] == 2
    assert warehouse("SELECT event_id, kind FROM raw_dlt.events ORDER BY event_id") == [
        (1, "click"), (2, "purchase"), (3, "click")
    ]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        pytest.param(["--file-glob", "*.json"], "cannot tell the format of '*.json': pass --format csv|parquet",
                     id="unknown-format"),
        pytest.param(["--write-disposition", "merge"], "--write-disposition merge needs --primary-key COLUMN",
                     id="merge-without-key"),
    ],
)
def test_invalid_arguments_exit_2(run_script: RunScript, tmp_path: Path, args: list[str], fragment: str) -> None:
    result = run_script(SCRIPT, "--bucket-url", tmp_path.as_uri(), "--table", "t", *args)
    result.assert_failed(2, fragment)


def test_unreadable_file_fails_the_load(run_script: RunScript, tmp_path: Path) -> None:
    (tmp_path / "broken.parquet").write_bytes(b"this is not parquet")
    result = run_script(SCRIPT, "--bucket-url", tmp_path.as_uri(), "--file-glob", "*.parquet", "--table", "broken")
    result.assert_failed(1, "dlt extract step failed:")


def test_another_dlt_destination_is_a_setting_not_a_code_change(
    run_script: RunScript, tmp_path: Path
) -> None:
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    landing.mkdir()
    write_csv(landing, "orders_1.csv", [(1, "new", 10.5)], age_seconds=60)
    env = {"DESTINATION_TYPE": "filesystem", "DESTINATION__FILESYSTEM__BUCKET_URL": lake.as_uri()}

    result = run_script(SCRIPT, "--bucket-url", landing.as_uri(), "--table", "orders", env=env)

    assert result.returncode == 0, result.stderr
    assert result.summary["destination"] == "filesystem" and result.summary["rows_written"] == 1
    landed = list((lake / "raw_dlt" / "orders").glob("*.parquet"))
    assert len(landed) == 1 and pq.read_table(landed[0]).column("order_id").to_pylist() == [1]
    assert not Path(os.environ["WAREHOUSE_DUCKDB_PATH"]).exists()
