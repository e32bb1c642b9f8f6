"""Running the real ``orchestra-local`` console script as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

CLI = str(Path(sys.executable).with_name("orchestra-local"))


@pytest.fixture
def cli_path() -> str:
    """Path of the installed ``orchestra-local`` console script."""
    return CLI


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``cli(*args, cwd=..., env=..., timeout=...)`` runs the installed console script."""

    def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 600
            ) -> subprocess.CompletedProcess[str]:
        return subprocess.run([CLI, *args], cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True,
                              text=True, timeout=timeout)

    return run
