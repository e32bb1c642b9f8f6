"""The ``dlt`` destination kind: its command-line options and its factory.

Imported by the destination registry at start-up, so it stays light: dlt itself (about a second
to import) loads only when ``--destination dlt`` is chosen.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ingest.destinations.base import Destination
from ingest.errors import UsageError
from ingest.kinds import Kind, OptionGroup


def _options(group: OptionGroup) -> None:
    group.add(
        "--dlt-destination",
        metavar="NAME",
        help="dlt destination: duckdb, postgres, snowflake, bigquery, filesystem, ...; credentials from "
        "dlt's config (DESTINATION__<NAME>__CREDENTIALS or .dlt/secrets.toml)",
    )
    group.add(
        "--dlt-dataset",
        metavar="NAME",
        help="dlt dataset (schema) to load into (default: --destination-schema)",
    )


def _open(options: Mapping[str, Any], environ: Mapping[str, str]) -> Destination:
    name = (options["dlt_destination"] or "").strip()
    if not name:
        raise UsageError("--destination dlt needs --dlt-destination NAME (e.g. postgres)")
    dataset = options["dlt_dataset"]
    if dataset is not None and not dataset.strip():
        raise UsageError("--dlt-dataset must not be empty")
    from ingest.destinations import WAREHOUSE_PATH_ENV, default_warehouse_path  # noqa: PLC0415 - loaded by now
    from ingest.destinations.dlt_destination import DltDestination  # noqa: PLC0415 - imports dlt

    raw = environ.get(WAREHOUSE_PATH_ENV, "").strip()
    warehouse = Path(raw).expanduser().resolve() if raw else default_warehouse_path()
    return DltDestination(name, dataset, environ, warehouse)


DLT: Kind[Destination] = Kind(
    "dlt",
    "any dlt destination (postgres, snowflake, bigquery, filesystem, ...) through a dlt pipeline",
    _open,
    _options,
)
