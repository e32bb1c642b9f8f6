"""Sources the worker can ingest from, one module each, behind :class:`~ingest.sources.base.Source`.

To add a source, write ``ingest/sources/<name>.py`` with a class implementing the protocol and
register a :class:`~ingest.kinds.Kind` (its CLI options and a factory) in :data:`SOURCES`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from worker_kit.connection import url_from_env

from ingest.kinds import Kind, OptionGroup
from ingest.sources.base import CursorFilter, Source, SourceTable
from ingest.sources.postgres_cdc import POSTGRES_CDC
from ingest.sources.rest.kind import REST
from ingest.sources.salesforce import add_salesforce_options, open_salesforce
from ingest.sources.sql import SqlSource
from ingest.sources.sql_reader import Reader

__all__ = ["SOURCES", "CursorFilter", "Source", "SourceTable", "open_source"]


DEFAULT_SOURCE_URL_ENV = "SOURCE_DATABASE_URL"


def _sql_options(group: OptionGroup) -> None:
    group.add(
        "--schema",
        help="source schema, or database on MySQL/MariaDB (default: the connection's default)",
    )
    group.add(
        "--query",
        metavar="SELECT",
        help="read the result of this SELECT instead of a table; --table then names the "
        "destination table, merge needs --primary-key, and --incremental-cursor filters the "
        "query's result (PostgreSQL, MySQL/MariaDB, SQLite)",
    )
    group.add(
        "--reader",
        choices=[reader.value for reader in Reader],
        default=Reader.AUTO.value,
        help="how tables are read: duckdb-scanner (DuckDB's PostgreSQL/SQLite scanners, parallel; "
        "into a DuckDB warehouse without a staging file), adbc (ADBC drivers for PostgreSQL/SQLite), "
        "sqlalchemy (any database); auto (default) takes the first that can read the table and logs "
        "the choice",
    )
    group.add(
        "--parallel",
        type=int,
        metavar="N",
        help="connections/threads the duckdb-scanner reader splits a table over (PostgreSQL ctid "
        "page ranges in one shared snapshot, SQLite rowid ranges; default: one per core, used "
        "when the table is large enough)",
    )
    group.add(
        "--source-url-env",
        default=DEFAULT_SOURCE_URL_ENV,
        metavar="VAR",
        help="NAME of the environment variable holding the source's SQLAlchemy URL "
        f"(default: {DEFAULT_SOURCE_URL_ENV})",
    )


def _sql(options: Mapping[str, Any], environ: Mapping[str, str]) -> Source:
    url = url_from_env(options["source_url_env"], "the source database", environ)
    return SqlSource(url, options["schema"], options["query"], reader=Reader(options["reader"]),
                     parallel=options["parallel"])


SOURCES: Mapping[str, Kind[Source]] = {
    "sql": Kind("sql", "any SQLAlchemy database (SQLite, PostgreSQL, MySQL/MariaDB, ...)", _sql, _sql_options),
    "salesforce": Kind(
        "salesforce",
        "Salesforce sObjects through the REST API or Bulk API 2.0 (simple-salesforce login)",
        open_salesforce,
        add_salesforce_options,
    ),
    "rest": REST,
    "postgres-cdc": POSTGRES_CDC,
}


def open_source(name: str, options: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Source:
    """Create the source called ``name``.

    Args:
        name: A key of :data:`SOURCES`, e.g. ``sql``.
        options: The kind's option values, by ``dest`` (see :mod:`ingest.kinds`).
        environ: Environment to read secrets from; defaults to ``os.environ``.

    Returns:
        The source, not yet connected (connections open on first use).

    Raises:
        KeyError: If ``name`` is not a registered source (the CLI restricts the choices).
        ConfigError: If the source's environment variable is unset or invalid.
    """
    return SOURCES[name].open(options, os.environ if environ is None else environ)
