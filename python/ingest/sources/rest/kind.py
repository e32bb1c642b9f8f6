"""The ``rest`` source kind: its command-line option and its factory.

Imported by the source registry at start-up, so it stays light: ``requests``, ``pydantic`` and
the YAML parser load only when ``--source rest`` is chosen.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ingest.errors import UsageError
from ingest.kinds import Kind, OptionGroup
from ingest.sources.base import Source


def _options(group: OptionGroup) -> None:
    group.add(
        "--rest-config",
        type=Path,
        metavar="FILE",
        help="YAML file describing the API: base URL, auth (names of environment variables), "
        "pagination, endpoints; --table names an endpoint (example: rest_sources/github.yml)",
    )


def _open(options: Mapping[str, Any], environ: Mapping[str, str]) -> Source:
    path = options["rest_config"]
    if path is None:
        raise UsageError("--source rest needs --rest-config FILE")
    from ingest.sources.rest.source import open_rest_source  # noqa: PLC0415 - deferred import

    return open_rest_source(path, environ)


REST: Kind[Source] = Kind("rest", "any JSON REST API described by a YAML file (requests)", _open, _options)
