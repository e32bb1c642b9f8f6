"""Finding interpreters: pyenv's installed versions, no downloads, a located error naming what exists."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from orchestra_local.venvs import PythonVersionUnavailableError, default_search_path
from orchestra_local.venvs.interpreters import installed_interpreters, unavailable_error, uv_binary, uv_environment


def _pyenv(root: Path, *versions: str) -> Path:
    for version in versions:
        (root / "versions" / version / "bin").mkdir(parents=True)
    (root / "shims").mkdir(parents=True, exist_ok=True)
    return root


@pytest.mark.parametrize(("environ", "expected"), [
    pytest.param(lambda r: {"PATH": f"{r}/shims:/usr/bin"},
                 lambda r: [f"{r}/versions/3.12.1/bin", f"{r}/versions/3.10.13/bin", "/usr/bin"],
                 id="root-from-shims-on-path-shims-dropped-python2-skipped"),
    pytest.param(lambda r: {"PATH": "/usr/bin", "PYENV_ROOT": str(r)},
                 lambda r: [f"{r}/versions/3.12.1/bin", f"{r}/versions/3.10.13/bin", "/usr/bin"],
                 id="root-from-PYENV_ROOT"),
    pytest.param(lambda r: {"PATH": "/usr/bin:/bin:/usr/bin"}, lambda r: ["/usr/bin", "/bin"],
                 id="no-pyenv-path-deduplicated"),
])
def test_default_search_path(tmp_path: Path, environ, expected) -> None:  # type: ignore[no-untyped-def]
    root = _pyenv(tmp_path / "pyenv", "2.7.18", "3.10.13", "3.12.1")
    assert default_search_path(environ(root), runner_prefix=None) == expected(root)


def test_pyenv_is_found_from_the_runners_own_interpreter_without_path(tmp_path: Path) -> None:
    root = _pyenv(tmp_path / "pyenv", "3.11.7", "3.12.1")
    found = default_search_path({"PATH": "/usr/bin"}, runner_prefix=root / "versions" / "3.11.7")
    assert found == [f"{root}/versions/3.12.1/bin", f"{root}/versions/3.11.7/bin", "/usr/bin"]


def test_uv_environment_never_downloads_and_ignores_the_runners_venv() -> None:
    env = uv_environment({"VIRTUAL_ENV": "/x/.venv", "HOME": "/h", "PATH": "/ignored"}, ["/a", "/b"])
    assert env == {"HOME": "/h", "PATH": os.pathsep.join(["/a", "/b"]), "UV_PYTHON_DOWNLOADS": "never",
                   "UV_NO_CONFIG": "1"}


def test_the_runners_own_interpreter_is_found() -> None:
    found = installed_interpreters(uv_binary(), uv_environment(os.environ, default_search_path(os.environ)))
    versions = {i.version for i in found}
    assert ".".join(map(str, sys.version_info[:3])) in versions, found


def test_unavailable_error_lists_each_interpreter_and_what_to_do() -> None:
    error = unavailable_error("3.12", installed_interpreters(
        uv_binary(), uv_environment(os.environ, [str(Path(sys.base_prefix) / "bin")])))
    assert isinstance(error, PythonVersionUnavailableError) and error.retryable is False
    message = str(error)
    assert message.startswith("python_version 3.12 is not installed on this machine (the runner never downloads")
    assert f"Interpreters found: {'.'.join(map(str, sys.version_info[:3]))} ({sys.base_prefix}/bin/python" in message
    assert "pyenv install 3.12" in message and "ORCHESTRA_LOCAL_PYTHON_SEARCH_PATH" in message
