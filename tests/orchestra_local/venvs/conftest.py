"""Per-project Python environments: a shared uv cache and a runner of pipelines in-process.

The environments are real: ``uv`` creates them with the pyenv interpreters of this machine and
installs ``inflection`` (a small pure-Python package the runner's environment lacks) from PyPI.
The uv cache is one folder for the whole session, so a package is downloaded once.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.orchestra_local.venvs.projects import Runner, run_file


@pytest.fixture(scope="session")
def uv_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One uv cache for the session (HOME moves to tmp_path in every test)."""
    return tmp_path_factory.mktemp("uv-cache")


@pytest.fixture(autouse=True)
def _session_uv_cache(uv_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UV_CACHE_DIR", str(uv_cache))


@pytest.fixture(scope="session")
def runner_interpreter_bin() -> Path:
    """The ``bin`` folder of the interpreter the runner runs on (holds no other version)."""
    return Path(sys.base_prefix) / "bin"


@pytest.fixture(scope="session")
def other_version() -> str:
    """An Orchestra ``python_version`` other than the runner's (3.12 under the runner's 3.11)."""
    return "3.12" if sys.version_info[:2] != (3, 12) else "3.11"


@pytest.fixture
def run() -> Runner:
    """``run(path, state_dir=..., isolation="per-project", workers=2, env=None) -> Finished``."""
    return run_file
