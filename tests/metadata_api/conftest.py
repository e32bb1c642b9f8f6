"""Each test keeps dlt's pipeline working directory (state, incremental cursors) in its tmp_path.

Without it dlt uses ``~/.dlt`` (``/var/dlt`` as root): a load's cursor would carry over between tests
and between CI runs on one machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def dlt_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``DLT_DATA_DIR`` under tmp_path (inherited by the loader's and the CLI's subprocesses)."""
    folder = tmp_path / "dlt_data"
    monkeypatch.setenv("DLT_DATA_DIR", str(folder))
    return folder
