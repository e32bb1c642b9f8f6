"""Which Python interpreters this machine has, as ``uv`` discovers them (never downloading one).

``uv`` finds interpreters on a search path (``PATH``) and among its own managed installations.
pyenv puts only *shims* on ``PATH``, and a shim answers only for the versions pyenv has selected,
so the versions pyenv installed next to each other are invisible to ``uv`` through it. The search
path therefore lists each installed pyenv version's ``bin`` folder first (Python 2 versions left
out: ``uv`` refuses to inspect them), then ``PATH`` without the shims. A user may replace the whole
search path with ``ORCHESTRA_LOCAL_PYTHON_SEARCH_PATH`` (see ``settings.py``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestra_local.errors import IntegrationError

NO_DOWNLOADS = {"UV_PYTHON_DOWNLOADS": "never", "UV_NO_CONFIG": "1"}
"""Environment of every ``uv`` call: never download a Python, ignore uv.toml/pyproject settings."""

_PYTHON_2_VERSION = re.compile(r"^2\.")
_LIST_TIMEOUT_SECONDS = 60.0


class PythonVersionUnavailableError(IntegrationError):
    """No interpreter of the requested version (or no ``uv``) is installed; another attempt cannot help."""

    retryable = False


@dataclass(frozen=True)
class Interpreter:
    """One interpreter ``uv`` found: ``version`` like ``3.12.1``, ``path`` of its executable."""

    version: str
    path: str
    implementation: str = "cpython"

    def label(self) -> str:
        """``3.12.1 (/root/.pyenv/versions/3.12.1/bin/python3.12)``; other implementations are named."""
        name = "" if self.implementation == "cpython" else f"{self.implementation} "
        return f"{name}{self.version} ({self.path})"


def uv_binary() -> str:
    """Path of the ``uv`` executable installed with the runner (the PyPI package ``uv``).

    Raises:
        PythonVersionUnavailableError: When the package is missing (not retryable).
    """
    try:
        from uv import find_uv_bin
    except ImportError:
        raise PythonVersionUnavailableError(
            "per-project Python environments need uv: pip install -r requirements.txt "
            "(or run with --isolation shared)"
        ) from None
    return find_uv_bin()


def default_search_path(environ: Mapping[str, str], runner_prefix: Path | None = Path(sys.base_prefix)) -> list[str]:
    """Folders where interpreters are looked for: pyenv's installed versions, then ``PATH``.

    pyenv's root is ``PYENV_ROOT``, the parent of a ``.../shims`` folder on ``PATH``, or the root
    the runner's own interpreter was installed under (``<root>/versions/<version>``), so neither a
    test that moves ``HOME`` nor a ``PATH`` without pyenv hides it; its shims are dropped from the
    result. The runner's own interpreter folder comes last, so its version is always found.

    Args:
        environ: The environment to read ``PATH`` and ``PYENV_ROOT`` from.
        runner_prefix: ``sys.base_prefix`` of the runner (None: leave it out).

    Returns:
        Folder paths, in search order, without duplicates.
    """
    path_entries = [entry for entry in environ.get("PATH", os.defpath).split(os.pathsep) if entry]
    roots = [Path(environ["PYENV_ROOT"])] if environ.get("PYENV_ROOT") else []
    roots += [Path(entry).parent for entry in path_entries if Path(entry).name == "shims"]
    if runner_prefix is not None and runner_prefix.parent.name == "versions":
        roots.append(runner_prefix.parent.parent)
    folders: list[str] = []
    for root in roots:
        versions = root / "versions"
        if versions.is_dir():
            for version in sorted(versions.iterdir(), key=lambda p: p.name, reverse=True):
                if (version / "bin").is_dir() and not _PYTHON_2_VERSION.match(version.name):
                    folders.append(str(version / "bin"))
    folders += [entry for entry in path_entries if Path(entry).name != "shims"]
    if runner_prefix is not None and (runner_prefix / "bin").is_dir():
        folders.append(str(runner_prefix / "bin"))
    return list(dict.fromkeys(folders))


def uv_environment(base_env: Mapping[str, str], search_path: Sequence[str]) -> dict[str, str]:
    """Environment for a ``uv`` call: ``base_env`` with ``PATH`` = the search path, downloads off.

    ``VIRTUAL_ENV`` and ``CONDA_PREFIX`` are removed so that the runner's own virtual environment is
    not taken for the requested interpreter.
    """
    env = {k: v for k, v in base_env.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join(search_path)
    env.update(NO_DOWNLOADS)
    return env


def installed_interpreters(uv: str, env: Mapping[str, str]) -> list[Interpreter]:
    """Every interpreter ``uv`` finds with ``env`` (newest first, one per real executable).

    Args:
        uv: The ``uv`` executable.
        env: Environment from :func:`uv_environment`.

    Returns:
        The interpreters; empty when ``uv`` cannot list them.
    """
    completed = subprocess.run(
        [uv, "python", "list", "--only-installed", "--no-python-downloads", "--output-format", "json"],
        env=dict(env), capture_output=True, text=True, timeout=_LIST_TIMEOUT_SECONDS, check=False,
        stdin=subprocess.DEVNULL,
    )
    try:
        rows = json.loads(completed.stdout or "[]")
    except json.JSONDecodeError:
        return []
    found: dict[str, Interpreter] = {}
    for row in rows if isinstance(rows, list) else []:
        path = str(row.get("path") or "")
        if not path or row.get("symlink"):  # python3 -> python3.12 is the same interpreter
            continue
        real = os.path.realpath(path)
        found.setdefault(real, Interpreter(str(row.get("version", "?")), path, str(row.get("implementation", ""))))
    return list(found.values())


def unavailable_error(requested: str, interpreters: Sequence[Interpreter]) -> PythonVersionUnavailableError:
    """The error for a ``python_version`` no interpreter on this machine has.

    Args:
        requested: The ``python_version`` parameter, e.g. ``3.12``.
        interpreters: What :func:`installed_interpreters` found.
    """
    listed = "; ".join(i.label() for i in interpreters) or "none"
    return PythonVersionUnavailableError(
        f"python_version {requested} is not installed on this machine (the runner never downloads Pythons). "
        f"Interpreters found: {listed}. Install {requested} (e.g. `pyenv install {requested}` or "
        f"`uv python install {requested}`), add its folder to ORCHESTRA_LOCAL_PYTHON_SEARCH_PATH, "
        "or change python_version"
    )
