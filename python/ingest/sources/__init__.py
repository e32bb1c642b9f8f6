"""Sources the worker can ingest from, one module each, behind :class:`~ingest.sources.base.Source`.

To add a source, write ``ingest/sources/<name>.py`` with a class implementing the protocol and
register a factory in :data:`SOURCES`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from worker_kit.connection import url_from_env

from ingest.sources.base import CursorFilter, Source, SourceTable
from ingest.sources.sql import SqlSource

__all__ = ["SOURCES", "CursorFilter", "Source", "SourceOptions", "SourceTable", "open_source"]


@dataclass(frozen=True)
class SourceOptions:
    """Connection settings shared by the sources.

    Attributes:
        url_env: Name of the environment variable holding the source's URL.
        schema: Schema (or namespace) of the source tables; None for the default.
    """

    url_env: str
    schema: str | None = None


def _sql(options: SourceOptions, environ: Mapping[str, str]) -> Source:
    return SqlSource(url_from_env(options.url_env, "the source database", environ), options.schema)


SOURCES: Mapping[str, Callable[[SourceOptions, Mapping[str, str]], Source]] = {"sql": _sql}


def open_source(
    name: str, options: SourceOptions, environ: Mapping[str, str] | None = None
) -> Source:
    """Create the source called ``name``.

    Args:
        name: A key of :data:`SOURCES`, e.g. ``sql``.
        options: Connection settings.
        environ: Environment to read secrets from; defaults to ``os.environ``.

    Returns:
        The source, not yet connected (connections open on first use).

    Raises:
        KeyError: If ``name`` is not a registered source (the CLI restricts the choices).
        ConfigError: If the source's environment variable is unset or invalid.
    """
    return SOURCES[name](options, os.environ if environ is None else environ)
