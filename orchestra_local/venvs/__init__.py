"""Isolated, cached Python environments for PYTHON_EXECUTE_SCRIPT tasks (see ``cache.py``)."""

from orchestra_local.venvs.cache import (
    CommandOutcome,
    EnvironmentBuildError,
    EnvironmentSpec,
    TaskEnvironment,
    ensure_environment,
)
from orchestra_local.venvs.interpreters import PythonVersionUnavailableError, default_search_path

__all__ = [
    "CommandOutcome",
    "EnvironmentBuildError",
    "EnvironmentSpec",
    "PythonVersionUnavailableError",
    "TaskEnvironment",
    "default_search_path",
    "ensure_environment",
]
