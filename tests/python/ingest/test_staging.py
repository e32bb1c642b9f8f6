"""Staging: Parquet files written off-thread, private directories, orphans of killed workers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ingest.staging import STAGING_PREFIX, ParquetStager, StagingArea

SCHEMA = pa.schema([("id", pa.int64()), ("name", pa.string())])


def batch(start: int, rows: int) -> pa.RecordBatch:
    ids = list(range(start, start + rows))
    return pa.record_batch([pa.array(ids), pa.array([f"n{i}" for i in ids])], schema=SCHEMA)


def test_stager_writes_every_batch(tmp_path: Path) -> None:
    with ParquetStager(tmp_path / "staged.parquet", SCHEMA) as stager:
        for start in range(0, 10_000, 1_000):
            stager.write(batch(start, 1_000))
        path = stager.finish()

    table = pq.read_table(path)
    assert table.schema == SCHEMA
    assert table.column("id").to_pylist() == list(range(10_000))


def test_stager_with_no_batches_writes_an_empty_file_with_the_schema(tmp_path: Path) -> None:
    with ParquetStager(tmp_path / "staged.parquet", SCHEMA) as stager:
        path = stager.finish()

    assert pq.read_table(path).num_rows == 0
    assert pq.read_schema(path) == SCHEMA


def test_stager_reports_a_failed_write(tmp_path: Path) -> None:
    def stage_into_missing_directory() -> None:
        with ParquetStager(tmp_path / "missing-dir" / "staged.parquet", SCHEMA) as stager:
            for start in range(0, 100_000, 1_000):
                stager.write(batch(start, 1_000))
            stager.finish()

    with pytest.raises(OSError, match="missing-dir"):
        stage_into_missing_directory()


def test_staging_area_is_private_and_removed(tmp_path: Path) -> None:
    with StagingArea(tmp_path / "warehouse-dir") as area:
        (area.path / "staged.parquet").write_bytes(b"x")
        assert area.path.parent == tmp_path / "warehouse-dir"
        assert area.path.name.startswith(STAGING_PREFIX)
        path = area.path

    assert not path.exists()


def test_staging_area_removes_orphans_of_dead_workers_only(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = tmp_path / f"{STAGING_PREFIX}{dead.pid}-abc"
    orphan.mkdir()
    (orphan / "staged.parquet").write_bytes(b"partial")
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        busy = tmp_path / f"{STAGING_PREFIX}{live.pid}-def"
        busy.mkdir()
        unrelated = tmp_path / "warehouse.duckdb"
        unrelated.write_bytes(b"keep")

        with StagingArea(tmp_path):
            pass

        assert not orphan.exists()
        assert busy.exists()
        assert unrelated.exists()
    finally:
        live.kill()
        live.wait()
