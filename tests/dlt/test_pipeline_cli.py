"""dlt/pipeline_cli.py: the error line of the pipeline scripts says what failed and leaks no secret."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

PIPELINE_CLI = Path(__file__).resolve().parents[2] / "dlt" / "pipeline_cli.py"


@pytest.fixture(scope="module")
def pipeline_cli() -> ModuleType:
    """dlt/pipeline_cli.py loaded from its file (dlt/ is a script folder, never put on sys.path)."""
    spec = importlib.util.spec_from_file_location("dlt_pipeline_cli_under_test", PIPELINE_CLI)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("message", "environ", "expected"),
    [
        pytest.param("connect to postgresql+psycopg://app:hunter22@db:5432/prod failed", {},
                     "connect to postgresql+psycopg://app:***@db:5432/prod failed", id="url-password"),
        pytest.param("401 for token ghp_abc123XYZ", {"SOURCES__REST_API__ACCESS_TOKEN": "ghp_abc123XYZ"},
                     "401 for token ***", id="secret-env-value"),
        pytest.param("key sk-long-secret-value and sk-long",
                     {"MY_API_KEY": "sk-long", "X_SECRET": "sk-long-secret-value"},
                     "key *** and ***", id="longest-first"),
        pytest.param("table orders in public", {"SOURCES__SQL_DATABASE__SCHEMA": "public", "DB_PASSWORD": "abc"},
                     "table orders in public", id="non-secret-and-short-values-kept"),
    ],
)
def test_mask_secrets(pipeline_cli: ModuleType, message: str, environ: dict[str, str], expected: str) -> None:
    assert pipeline_cli.mask_secrets(message, environ) == expected


def test_describe_error_names_the_innermost_cause(pipeline_cli: ModuleType) -> None:
    try:
        try:
            raise ConnectionRefusedError("connection refused\n  on port 5432")
        except ConnectionRefusedError as inner:
            raise RuntimeError("extract failed") from inner
    except RuntimeError as outer:
        assert pipeline_cli.describe_error(outer) == "ConnectionRefusedError: connection refused on port 5432"
    assert pipeline_cli.describe_error(pipeline_cli.UsageError("--table is required")) == "--table is required"
