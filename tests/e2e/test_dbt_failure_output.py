"""A dbt model with a SQL error inside the demo pipeline: ``orchestra-local run`` names it with dbt's message."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
IGNORED = shutil.ignore_patterns("target", "logs", "__pycache__", ".venv", "*.duckdb")


def test_a_broken_model_is_named_with_dbts_error_and_the_log_path(cli, repo: Path, tmp_path: Path) -> None:
    for folder in ("python", "dbt"):
        shutil.copytree(REPO_ROOT / folder, repo / folder, ignore=IGNORED)
    shutil.copy(REPO_ROOT / "orchestra" / "tpch_elt.yml", repo / "orchestra" / "tpch_elt.yml")
    model = repo / "dbt" / "models" / "staging" / "tpch" / "stg_tpch__orders.sql"
    model.write_text(model.read_text().replace("cast(o_custkey as bigint)", "cast(o_no_such_column as bigint)"))
    source = f"sqlite:///{tmp_path / 'tpch_source.sqlite'}"
    generated = subprocess.run([sys.executable, "-m", "tpch_source", "--scale-factor", "0.01"], cwd=repo / "python",
                               env={**os.environ, "TPCH_SOURCE_URL": source}, capture_output=True, text=True,
                               timeout=300)
    assert generated.returncode == 0, generated.stderr

    result = cli("run", str(repo / "orchestra" / "tpch_elt.yml"), "--no-progress", cwd=repo,
                 env={"TPCH_SOURCE_URL": source})
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "transform.dbt_build failed:" in out
    assert "model stg_tpch__orders: Runtime Error in model stg_tpch__orders" in out
    assert 'Binder Error: Referenced column "o_no_such_column" not found' in out
    log = re.search(r"full log: (.+)", out)
    assert log and Path(log.group(1)).is_file() and "o_no_such_column" in Path(log.group(1)).read_text()
