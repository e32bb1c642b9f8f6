"""The dlt destination: the staged rows go through a dlt pipeline into any dlt destination.

``--destination dlt --dlt-destination postgres`` (or ``snowflake``, ``bigquery``,
``filesystem``, ``duckdb``, ...) hands the worker's Arrow batches to
``dlt.pipeline(...)`` with the matching write disposition and primary key; dlt creates and
evolves the table and writes it its own way. Credentials are dlt's business: environment
variables such as ``DESTINATION__POSTGRES__CREDENTIALS`` or ``.dlt/secrets.toml`` in the
working directory (https://dlthub.com/docs/general-usage/credentials/). Only ``duckdb`` without
credentials gets a default: the worker's warehouse file (``WAREHOUSE_DUCKDB_PATH``).

Incremental state lives in dlt's pipeline state, which dlt stores in the destination
(``<dataset>._dlt_pipeline_state``) in the same load package as the data and reads back only
for packages whose load completed (``_dlt_loads.status = 0``). The watermark therefore moves
exactly when the data lands. Each run uses a fresh pipeline working directory inside the
worker's staging directory (never the repository) and restores the state from the
destination, so ephemeral containers and laptops see the same state.

Atomicity is dlt's: merge loads a staging dataset and merges it in one transaction on SQL
destinations, replace uses dlt's ``insert-from-staging`` strategy (same), append inserts each
of dlt's load files in its own transaction. ``raise_on_failed_jobs`` is on, so a failed job
fails the run before its package is marked complete.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import re
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.common.destination import Destination
from dlt.common.exceptions import DltException, MissingDependencyException
from dlt.common.normalizers.naming.snake_case import NamingConvention
from dlt.pipeline.exceptions import PipelineStepFailed
from worker_kit.errors import WorkerError

import dlt
from ingest.destinations.base import IncrementalState, LoadRequest, LoadResult, WriteDisposition
from ingest.destinations.dlt_rows import StagedRows, state_of
from ingest.errors import ConfigError, DestinationError, UsageError
from ingest.staging import StagingArea
from ingest.watermark import format_cursor_value

logger = logging.getLogger(__name__)

RESOURCE = "ingest_rows"  # the dlt resource name; its state holds the watermark
_NAMING = NamingConvention()


def pipeline_name(dataset: str, table: str) -> str:
    """The dlt pipeline (and state) name of one destination table, unique per dataset and table.

    Returns:
        ``ingest_<table slug>_<8 hex digits>``; lowercase letters, digits and single
        underscores, so dlt's schema (and state) name equals it.
    """
    slug = re.sub(r"[^a-z0-9]+", "_", table.lower()).strip("_")[:40] or "table"
    digest = hashlib.sha1(f"{dataset}\0{table}".encode(), usedforsecurity=False).hexdigest()[:8]
    return f"ingest_{slug}_{digest}"


def _destination(name: str, environ: Mapping[str, str], warehouse: Path) -> Destination[Any, Any]:
    """The dlt destination object, with atomic replaces and the duckdb default."""
    options: dict[str, Any] = {"replace_strategy": "insert-from-staging"}
    if name == "duckdb" and not (
        environ.get("DESTINATION__DUCKDB__CREDENTIALS") or dlt.secrets.get("destination.duckdb.credentials")
    ):
        warehouse.parent.mkdir(parents=True, exist_ok=True)
        options["credentials"] = str(warehouse)
    try:
        return Destination.from_reference(name, **options)
    except MissingDependencyException as exc:
        raise ConfigError(f"dlt destination {name!r} needs extra packages: pip install 'dlt[{name}]'") from exc
    except DltException as exc:
        raise UsageError(
            f"--dlt-destination {name!r} is not a dlt destination (e.g. duckdb, postgres, snowflake, "
            f"bigquery, filesystem)"
        ) from exc


_TRACEBACK = "Traceback (most recent call last):"


def _summary(text: str) -> str:
    """One line for a dlt message: its first line, or for an embedded traceback, the head and the
    final exception line (``psycopg2.errors.CheckViolation: ...``)."""
    if _TRACEBACK in text:
        head, tail = text.split(_TRACEBACK, 1)[0].strip(), text.rsplit(_TRACEBACK, 1)[1]
        final = next((line.strip() for line in tail.splitlines() if line and not line[0].isspace()), "")
        return f"{head} {final}".strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else ""


class _OneLineLogs(logging.Filter):
    """Shortens dlt's error logs (a failed job carries a traceback) to one line, unless ``--debug``.

    The worker reports the failure itself, in one ``Error:`` line.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if logging.getLogger().isEnabledFor(logging.DEBUG):
            return True
        record.exc_info = None
        record.exc_text = None
        message = record.getMessage()
        if _TRACEBACK in message or "\n" in message:
            record.msg, record.args = _summary(message), None
        return True


_ONE_LINE_LOGS = _OneLineLogs()


def _first_line(exc: BaseException) -> str:
    return _summary(str(exc)) or type(exc).__name__


class DltDestination:
    """Tables of one dlt destination.

    Args:
        destination: dlt destination name, e.g. ``postgres``.
        dataset: dlt dataset (schema) to load into; None for the request's schema.
        environ: Environment, for the duckdb default.
        warehouse: DuckDB file used by ``duckdb`` when dlt has no credentials for it.

    Raises:
        UsageError: If ``destination`` is not a dlt destination.
        ConfigError: If the destination needs packages that are not installed.
    """

    def __init__(self, destination: str, dataset: str | None, environ: Mapping[str, str], warehouse: Path) -> None:
        self.name = destination
        self._dataset = dataset
        self._destination = _destination(destination, environ, warehouse)
        logging.getLogger("dlt").addFilter(_ONE_LINE_LOGS)  # dlt's logger; adding twice is a no-op

    def describe_table(self, schema: str, table: str) -> str:
        """``dataset.table`` as dlt names them (snake_case)."""
        dataset = _NAMING.normalize_table_identifier(self._dataset or schema)
        return f"{dataset}.{_NAMING.normalize_table_identifier(table)}"

    def staging_parent(self) -> Path:
        """``<system temp>/ingest-dlt``: staging files and dlt's working directories."""
        return Path(tempfile.gettempdir()) / "ingest-dlt"

    def read_state(self, schema: str, table: str) -> IncrementalState | None:
        """The watermark in the table's dlt pipeline state, as stored in the destination.

        Raises:
            ConfigError: If dlt lacks configuration (credentials) for the destination.
            DestinationError: If the destination cannot be read.
        """
        with StagingArea(self.staging_parent()) as area:
            pipeline = self._pipeline(schema, table, area.path)
            with self._errors(schema, "reading the watermark"):
                pipeline.sync_destination()
            stored = _stored_state(pipeline)
        if not stored.get("cursor_column"):
            return None
        return IncrementalState(str(stored["cursor_column"]), stored.get("watermark"))

    supports_deletes = False  # dlt's merge has no "keys missing from a full load" rule we could drive
    supports_streams = False
    supports_scans = False

    def load(self, request: LoadRequest) -> LoadResult:
        """Run the staged rows through a dlt pipeline: extract, normalize, load.

        Args:
            request: The load (``deletes`` must be IGNORE: see :attr:`supports_deletes`).

        Returns:
            Rows handed to dlt and loaded (dlt does not report rows a merge left unchanged).

        Raises:
            PrimaryKeyError: If a merge key column holds NULL (before dlt starts).
            ConfigError: If dlt lacks configuration (credentials) for the destination.
            DestinationError: If a dlt step fails; the package is not marked complete, so
                neither the data nor the watermark counts as loaded.
        """
        pipeline = self._pipeline(request.schema, request.table, request.staging_file.parent / "dlt")
        with self._errors(request.schema, f"loading {self.describe_table(request.schema, request.table)}"):
            pipeline.sync_destination()
            stored = _stored_state(pipeline)
            rows = StagedRows(request, dt.datetime.now(dt.UTC), _stored_boundary(stored, request))
            rows.check()
            exists = _has_table(pipeline, request.table)
            resource = dlt.resource(
                self._rows(rows, exists),
                name=RESOURCE,
                table_name=request.table,
                write_disposition=request.write_disposition.value,
                primary_key=list(request.primary_key) or None,
            )
            pipeline.extract(resource)
            pipeline.normalize()
            info = pipeline.load(raise_on_failed_jobs=True)
        logger.info(
            "dlt pipeline %s: %d load package(s), %s rows",
            pipeline.pipeline_name,
            len(info.loads_ids),
            f"{rows.rows_written:,}",
        )
        return LoadResult(rows.rows_written)

    def _rows(self, rows: StagedRows, table_exists: bool) -> Any:
        """The resource function: yields the batches, then records the incremental state."""
        request = rows.request

        def generate() -> Iterator[Any]:
            produced = False
            for batch in rows.batches():
                produced = True
                yield batch
            if not produced and (not table_exists or request.write_disposition is WriteDisposition.REPLACE):
                yield rows.empty_batch()  # creates the table, or empties it for a replace
            state = dlt.current.resource_state()
            if request.cursor_column is not None:
                wanted = state_of(request, rows.boundary_after())
            elif request.write_disposition is WriteDisposition.REPLACE:
                wanted = {}  # a full replace forgets the watermark, as the other destinations do
            else:
                return
            if dict(state) != wanted:
                state.clear()
                state.update(wanted)

        return generate

    def _pipeline(self, schema: str, table: str, working_dir: Path) -> dlt.Pipeline:
        dataset = self._dataset or schema
        return dlt.pipeline(
            pipeline_name=pipeline_name(dataset, table),
            pipelines_dir=str(working_dir),
            destination=self._destination,
            dataset_name=dataset,
        )

    @contextlib.contextmanager
    def _errors(self, schema: str, action: str) -> Iterator[None]:
        """Turn dlt's exceptions into the worker's: one line, the step and the cause."""
        where = f"dlt destination {self.name} (dataset {self._dataset or schema})"
        try:
            yield
        except PipelineStepFailed as exc:
            cause = exc.exception
            if isinstance(cause, WorkerError):
                raise cause from exc
            if isinstance(cause, ConfigFieldMissingException):
                raise self._missing(cause) from exc
            raise DestinationError(
                f"{where}: {action}: dlt step {exc.step} failed: {type(cause).__name__}: {_first_line(cause)}"
            ) from exc
        except ConfigFieldMissingException as exc:
            raise self._missing(exc) from exc
        except MissingDependencyException as exc:
            raise ConfigError(f"{where}: needs extra packages: pip install 'dlt[{self.name}]'") from exc
        except DltException as exc:
            raise DestinationError(f"{where}: {action}: {type(exc).__name__}: {_first_line(exc)}") from exc

    def _missing(self, exc: ConfigFieldMissingException) -> ConfigError:
        fields = ", ".join(exc.fields)
        variables = ", ".join(f"DESTINATION__{self.name.upper()}__{f.upper()}" for f in exc.fields)
        return ConfigError(
            f"dlt destination {self.name}: missing configuration {fields}; set {variables} or put it in "
            f".dlt/secrets.toml under [destination.{self.name}]"
        )


def _stored_state(pipeline: dlt.Pipeline) -> dict[str, Any]:
    """The resource state the last completed load stored (empty when there is none)."""
    sources = pipeline.state.get("sources", {})
    # dlt keeps resource state under the schema's name, which is the pipeline's name.
    source = sources.get(pipeline.pipeline_name, {})
    return dict(source.get("resources", {}).get(RESOURCE, {}))


def _stored_boundary(stored: Mapping[str, Any], request: LoadRequest) -> dict[str, int]:
    """Row digests loaded at the stored watermark, when this load reads from exactly there."""
    if request.cursor_column is None or request.lower_bound is None:
        return {}
    if stored.get("cursor_column") != request.cursor_column:
        return {}
    if stored.get("watermark") != format_cursor_value(request.lower_bound):
        return {}
    return {str(k): int(v) for k, v in dict(stored.get("boundary_rows", {})).items()}


def _has_table(pipeline: dlt.Pipeline, table: str) -> bool:
    """Whether an earlier completed load created the table (per the schema restored from it)."""
    if pipeline.default_schema_name is None:
        return False
    return _NAMING.normalize_table_identifier(table) in pipeline.default_schema.tables
