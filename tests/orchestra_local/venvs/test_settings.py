"""Where the isolation setting comes from: option, then ORCHESTRA_LOCAL_PYTHON_ISOLATION, then auto."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestra_local.errors import InvalidInputError
from orchestra_local.settings import PythonEnvironments, resolve_settings


@pytest.mark.parametrize(("option", "environ", "expected"), [
    pytest.param(None, {}, PythonEnvironments(isolation="auto"), id="default-auto"),
    pytest.param(None, {"ORCHESTRA_LOCAL_PYTHON_ISOLATION": "per-project"}, PythonEnvironments(isolation="per-project"),
                 id="environment-variable-for-serve"),
    pytest.param("shared", {"ORCHESTRA_LOCAL_PYTHON_ISOLATION": "per-project"}, PythonEnvironments(isolation="shared"),
                 id="option-wins"),
    pytest.param(None, {"ORCHESTRA_LOCAL_PYTHON_SEARCH_PATH": os.pathsep.join(["/a/bin", "", "/b/bin"])},
                 PythonEnvironments(search_path=("/a/bin", "/b/bin")), id="search-path-split"),
])
def test_python_environment_settings(tmp_path: Path, option: str | None, environ: dict[str, str],
                                     expected: PythonEnvironments) -> None:
    settings = resolve_settings(tmp_path, repo_root=tmp_path, python_isolation=option, environ=environ)
    assert settings.python == expected
    assert settings.venvs_dir == settings.state_dir / "venvs"


@pytest.mark.parametrize(("option", "environ", "fragment"), [
    pytest.param("isolated", {}, "--isolation must be one of auto, shared, per-project, got 'isolated'", id="option"),
    pytest.param(None, {"ORCHESTRA_LOCAL_PYTHON_ISOLATION": "venv"},
                 "ORCHESTRA_LOCAL_PYTHON_ISOLATION must be one of auto, shared, per-project, got 'venv'", id="variable"),
])
def test_unknown_isolation_is_refused(tmp_path: Path, option: str | None, environ: dict[str, str],
                                      fragment: str) -> None:
    with pytest.raises(InvalidInputError, match=fragment):
        resolve_settings(tmp_path, repo_root=tmp_path, python_isolation=option, environ=environ)
