"""Errors of the TPC-H source generator (all are :class:`worker_kit.errors.WorkerError`)."""

from __future__ import annotations

from worker_kit.errors import WorkerError


class GeneratorError(WorkerError, RuntimeError):
    """DuckDB could not load the tpch extension or generate the data."""


class TargetError(WorkerError, RuntimeError):
    """The target database cannot be written (unsupported kind, locked, or refused the data)."""
