"""Shared by the tests of loads through each reader of the sql source: a worker run that checks which
reader read (the ``destination`` fixture is in conftest.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conftest import Destination, SourceDatabase

ORDERS = 15_000
READERS = ["sqlalchemy", "adbc", "duckdb-scanner"]
PYTHON_DIR = Path(__file__).resolve().parents[3] / "python"


def ingest(db: SourceDatabase, destination: Destination, reader: str, *args: str) -> dict[str, Any]:
    run = db.ingest("--reader", reader, *destination.args, *args, **destination.env)
    assert run.returncode == 0, run.stderr
    assert f"with the {reader} reader" in run.stderr
    return dict(run.summary)
