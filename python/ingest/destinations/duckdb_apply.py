"""The body of a DuckDB load transaction: staging, schema evolution, replace/append/merge, state.

Every function here runs inside the caller's open transaction on one DuckDB connection; the
caller commits or rolls back. Nothing in this module opens connections or catches errors it
cannot describe better.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import duckdb

from ingest.destinations.base import (
    DELETED_AT_COLUMN,
    LOADED_AT_COLUMN,
    STATE_TABLE,
    DeleteMode,
    IncrementalState,
    LoadRequest,
    LoadResult,
    WriteDisposition,
)
from ingest.errors import PrimaryKeyError, SchemaConflictError
from ingest.watermark import CursorValue, batch_maximum, format_cursor_value, later

logger = logging.getLogger(__name__)

_STAGED = "_ingest_staged"
_DEDUPLICATED = "_ingest_deduplicated"


def quote(identifier: str) -> str:
    """Quote a DuckDB identifier, doubling embedded double quotes."""
    return '"' + identifier.replace('"', '""') + '"'


def qualified(schema: str, table: str) -> str:
    """The quoted ``schema.table`` name."""
    return f"{quote(schema)}.{quote(table)}"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _columns(connection: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    """``(name, DuckDB type)`` of each column of a table or view, in order."""
    rows = connection.execute(f"DESCRIBE {relation}").fetchall()
    return [(str(row[0]), str(row[1])) for row in rows]


def table_exists(connection: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Whether ``schema.table`` exists in the attached database."""
    row = connection.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(row and row[0])


def read_state(
    connection: duckdb.DuckDBPyConnection, schema: str, table: str
) -> IncrementalState | None:
    """Read the stored watermark of ``schema.table`` (None if the state table or row is absent)."""
    if not table_exists(connection, schema, STATE_TABLE):
        return None
    names = {name for name, _ in _columns(connection, qualified(schema, STATE_TABLE))}
    count = "coalesce(loads_since_reconcile, 0)" if "loads_since_reconcile" in names else "0"  # else: older
    row = connection.execute(
        f"SELECT cursor_column, watermark, {count} FROM {qualified(schema, STATE_TABLE)} "
        "WHERE destination_table = ?",
        [table],
    ).fetchone()
    return None if row is None else IncrementalState(str(row[0]), row[1], int(row[2]))


def _add_reconcile_count(connection: duckdb.DuckDBPyConnection, schema: str) -> None:
    """Give a state table written before ``--reconcile-every`` existed its count column."""
    if "loads_since_reconcile" not in {name for name, _ in _columns(connection, qualified(schema, STATE_TABLE))}:
        connection.execute(f"ALTER TABLE {qualified(schema, STATE_TABLE)} "
                           "ADD COLUMN loads_since_reconcile INTEGER DEFAULT 0")  # DuckDB adds no NOT NULL


def apply_load(connection: duckdb.DuckDBPyConnection, request: LoadRequest) -> LoadResult:
    """Apply a staged load; the caller owns the transaction.

    Args:
        connection: Connection with an open transaction.
        request: The load to apply.

    Returns:
        Rows inserted or updated, and rows deleted per ``request.deletes``.

    Raises:
        PrimaryKeyError: If a merge key column holds NULL in the staged rows.
        SchemaConflictError: If a staged column's type differs from the existing column's.
        duckdb.Error: If DuckDB rejects a statement.
    """
    target = qualified(request.schema, request.table)
    connection.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(request.schema)}")
    staged_rows, watermark = _stage(connection, request)
    columns = [name for name, _ in _columns(connection, _STAGED)]
    source = _STAGED
    if request.write_disposition is WriteDisposition.MERGE:
        source = _unique_on_key(connection, request)
    exists = table_exists(connection, request.schema, request.table)
    soft = request.deletes is DeleteMode.SOFT
    deleted = 0
    if request.write_disposition is WriteDisposition.REPLACE or not exists:
        rows = _create(connection, target, source, columns)
        if soft:
            _add_deleted_at(connection, target)
    else:
        _add_new_columns(connection, target, _columns(connection, _STAGED))
        if request.write_disposition is WriteDisposition.APPEND:
            rows = _append(connection, target, source, columns, request)
        else:
            if soft:
                _add_deleted_at(connection, target)
            # A row the source sends is live, whatever this load's --deletes: a key marked deleted
            # earlier and sent again (an incremental load between two reconciles) is revived.
            revive = DELETED_AT_COLUMN in {name for name, _ in _columns(connection, target)}
            rows = _merge(connection, target, source, columns, request.primary_key, revive=revive)
            if request.deleted_keys_file is not None:
                deleted = _delete_keys(connection, target, f"read_parquet({_literal(str(request.deleted_keys_file))})",
                                       request.primary_key, request.deletes, listed=True)
            else:
                keys = source if request.source_keys_file is None else \
                    f"read_parquet({_literal(str(request.source_keys_file))})"
                deleted = _delete_keys(connection, target, keys, request.primary_key, request.deletes)
    if request.staged_scan is not None and staged_rows is None:
        staged_rows = rows  # a replace straight from the scan: it read what it wrote
    _store_state(connection, request, watermark)
    return LoadResult(rows, deleted, staged_rows, watermark if request.staged_scan is not None else None)


def _stage(connection: duckdb.DuckDBPyConnection, request: LoadRequest) -> tuple[int | None, CursorValue | None]:
    """Make ``_ingest_staged`` the load's rows: a view over the staging file, or the source scan.

    A scan feeding a replace stays a view (the new table is written in one pass from the
    source); any other load materialises it in a temporary table, so the duplicate-key check,
    the merge and the watermark all see the same rows.

    Returns:
        ``(rows staged, watermark to store)``: for a scan, the rows counted (None for a replace,
        counted by the write) and ``later(lower_bound, largest cursor value)`` for an incremental
        load; for a staging file ``(None, request.watermark)``.
    """
    scan = request.staged_scan
    if scan is None:
        connection.execute(
            f"CREATE OR REPLACE TEMP VIEW {_STAGED} AS "
            f"SELECT * FROM read_parquet({_literal(str(request.staging_file))})"
        )
        return None, request.watermark
    scan.prepare(connection)
    if request.write_disposition is WriteDisposition.REPLACE and request.cursor_column is None:
        connection.execute(f"CREATE OR REPLACE TEMP VIEW {_STAGED} AS {scan.select}", scan.parameters or None)
        return None, None
    connection.execute(f"CREATE OR REPLACE TEMP TABLE {_STAGED} AS {scan.select}", scan.parameters or None)
    if request.cursor_column is None:
        return _count(connection.execute(f"SELECT count(*) FROM {_STAGED}")), None
    counted = connection.execute(
        f"SELECT count(*) AS n, max({quote(request.cursor_column)}) AS m FROM {_STAGED}").fetch_arrow_table()
    maximum = batch_maximum(counted.column("m").combine_chunks())
    return int(counted.column("n")[0].as_py()), later(request.lower_bound, maximum)


def _add_deleted_at(connection: duckdb.DuckDBPyConnection, target: str) -> None:
    connection.execute(f"ALTER TABLE {target} ADD COLUMN IF NOT EXISTS {quote(DELETED_AT_COLUMN)} TIMESTAMPTZ")


def _delete_keys(connection: duckdb.DuckDBPyConnection, target: str, source: str, key: Sequence[str],
                 mode: DeleteMode, listed: bool = False) -> int:
    """Mark (soft) or remove (hard) the rows whose key is not in ``source`` (staged rows or every
    source key), or with ``listed`` the rows whose key is in it (deleted keys); how many."""
    if mode is DeleteMode.IGNORE:
        return 0
    on = " AND ".join(f"t.{quote(k)} = s.{quote(k)}" for k in key)
    missing = f"{'' if listed else 'NOT '}EXISTS (SELECT 1 FROM {source} AS s WHERE {on})"
    if mode is DeleteMode.HARD:
        return _count(connection.execute(f"DELETE FROM {target} AS t WHERE {missing}"))
    deleted_at = quote(DELETED_AT_COLUMN)
    return _count(connection.execute(
        f"UPDATE {target} AS t SET {deleted_at} = now() WHERE t.{deleted_at} IS NULL AND {missing}"))


def _unique_on_key(connection: duckdb.DuckDBPyConnection, request: LoadRequest) -> str:
    """Check the merge key; return a relation holding one staged row per key (the last one)."""
    key = request.primary_key
    key_list = ", ".join(quote(k) for k in key)
    any_null = " OR ".join(f"{quote(k)} IS NULL" for k in key)
    distinct = f"({key_list})" if len(key) > 1 else key_list
    duplicates_count = (
        "0" if request.primary_key_unique else f"count(*) - count(DISTINCT {distinct})"
    )
    nulls, duplicates = connection.execute(
        f"SELECT count(*) FILTER (WHERE {any_null}), {duplicates_count} FROM {_STAGED}"
    ).fetchone() or (0, 0)
    if nulls:
        raise PrimaryKeyError(
            f"{nulls:,} source rows have NULL in primary key ({', '.join(key)}); "
            f"merge needs a non-null key"
        )
    if not duplicates:
        return _STAGED
    logger.warning(
        "%s source rows repeat a primary key (%s); keeping the last row read for each key",
        f"{duplicates:,}",
        ", ".join(key),
    )
    staged_rows = (
        f"read_parquet({_literal(str(request.staging_file))}, file_row_number = true)"
        if request.staged_scan is None
        else f"(SELECT *, rowid AS file_row_number FROM {_STAGED})"  # the scan's temporary table
    )
    connection.execute(
        f"CREATE OR REPLACE TEMP TABLE {_DEDUPLICATED} AS "
        f"SELECT * EXCLUDE (file_row_number) FROM {staged_rows} "
        f"QUALIFY row_number() OVER (PARTITION BY {key_list} ORDER BY file_row_number DESC) = 1"
    )
    return _DEDUPLICATED


def _select_list(columns: Sequence[str], prefix: str = "") -> str:
    return ", ".join(f"{prefix}{quote(c)}" for c in columns)


def _count(result: duckdb.DuckDBPyConnection) -> int:
    row = result.fetchone()
    return int(row[0]) if row else 0


def _create(
    connection: duckdb.DuckDBPyConnection, target: str, source: str, columns: Sequence[str]
) -> int:
    """Create (or replace) the target with exactly the staged rows."""
    return _count(
        connection.execute(
            f"CREATE OR REPLACE TABLE {target} AS SELECT {_select_list(columns)}, "
            f"now() AS {quote(LOADED_AT_COLUMN)} FROM {source}"
        )
    )


def _add_new_columns(
    connection: duckdb.DuckDBPyConnection, target: str, staged: Sequence[tuple[str, str]]
) -> None:
    """Add staged columns the table lacks; refuse columns whose type changed."""
    existing = {name.lower(): (name, kind) for name, kind in _columns(connection, target)}
    for name, kind in staged:
        if name.lower() not in existing:
            logger.info("adding column %s %s to %s", name, kind, target)
            connection.execute(f"ALTER TABLE {target} ADD COLUMN {quote(name)} {kind}")
            continue
        current_name, current_kind = existing[name.lower()]
        if current_kind != kind:
            raise SchemaConflictError(
                f"column {current_name!r} of {target} is {current_kind} but the source now "
                f"sends {kind}; migrate the column or reload with --write-disposition replace"
            )


def _append(
    connection: duckdb.DuckDBPyConnection,
    target: str,
    source: str,
    columns: Sequence[str],
    request: LoadRequest,
) -> int:
    """Insert the staged rows.

    For an incremental append the source was read from ``cursor >= lower_bound``, so rows at
    exactly the lower bound may already be in the table. Those are removed with ``EXCEPT ALL``
    against the table's rows at that value: a row is inserted only as many times as it is
    missing, so re-running the same window inserts nothing while rows that share the last
    cursor value and arrived later are still loaded.
    """
    select = _select_list(columns)
    rows = f"SELECT {select} FROM {source}"
    parameters: dict[str, object] = {}
    if request.cursor_column is not None and request.lower_bound is not None:
        cursor = quote(request.cursor_column)
        rows = (
            f"{rows} WHERE {cursor} IS DISTINCT FROM $bound "
            f"UNION ALL (SELECT {select} FROM {source} WHERE {cursor} = $bound "
            f"EXCEPT ALL SELECT {select} FROM {target} WHERE {cursor} = $bound)"
        )
        parameters["bound"] = request.lower_bound
    return _count(
        connection.execute(
            f"INSERT INTO {target} ({select}, {quote(LOADED_AT_COLUMN)}) "
            f"SELECT {select}, now() FROM ({rows})",
            parameters or None,
        )
    )


def _merge(
    connection: duckdb.DuckDBPyConnection,
    target: str,
    source: str,
    columns: Sequence[str],
    key: Sequence[str],
    revive: bool = False,
) -> int:
    """Upsert on the key; rows whose values did not change are not touched.

    With ``revive`` (the table has ``_deleted_at``), a row marked deleted whose key the source
    sends again is updated too, and its ``_deleted_at`` cleared.
    """
    on = " AND ".join(f"t.{quote(k)} = s.{quote(k)}" for k in key)
    values = [c for c in columns if c not in key]
    loaded_at = quote(LOADED_AT_COLUMN)
    conditions = []
    assignments = [f"{quote(c)} = s.{quote(c)}" for c in values] + [f"{loaded_at} = now()"]
    if values:
        conditions.append(f"({_select_list(values, 't.')}) IS DISTINCT FROM ({_select_list(values, 's.')})")
    if revive:
        conditions.append(f"t.{quote(DELETED_AT_COLUMN)} IS NOT NULL")
        assignments.append(f"{quote(DELETED_AT_COLUMN)} = NULL")
    matched = ""
    if conditions:
        matched = f"WHEN MATCHED AND ({' OR '.join(conditions)}) THEN UPDATE SET {', '.join(assignments)} "
    return _count(
        connection.execute(
            f"MERGE INTO {target} AS t USING {source} AS s ON ({on}) {matched}"
            f"WHEN NOT MATCHED THEN INSERT ({_select_list(columns)}, {loaded_at}) "
            f"VALUES ({_select_list(columns, 's.')}, now())"
        )
    )


def _store_state(connection: duckdb.DuckDBPyConnection, request: LoadRequest, watermark_value: CursorValue | None) -> None:
    """Record the watermark of an incremental load; a full replace forgets any old one."""
    state = qualified(request.schema, STATE_TABLE)
    if request.cursor_column is None:
        if request.write_disposition is WriteDisposition.REPLACE and table_exists(
            connection, request.schema, STATE_TABLE
        ):
            connection.execute(f"DELETE FROM {state} WHERE destination_table = ?", [request.table])
        return
    connection.execute(
        f"CREATE TABLE IF NOT EXISTS {state} (destination_table VARCHAR PRIMARY KEY, "
        "cursor_column VARCHAR NOT NULL, watermark VARCHAR, updated_at TIMESTAMPTZ NOT NULL, "
        "loads_since_reconcile INTEGER NOT NULL DEFAULT 0)"
    )
    _add_reconcile_count(connection, request.schema)
    watermark = None if watermark_value is None else format_cursor_value(watermark_value)
    connection.execute(
        f"INSERT INTO {state} (destination_table, cursor_column, watermark, updated_at, loads_since_reconcile) "
        "VALUES (?, ?, ?, now(), CASE WHEN ? THEN 0 ELSE 1 END) ON CONFLICT (destination_table) DO UPDATE SET "
        "cursor_column = excluded.cursor_column, watermark = excluded.watermark, updated_at = excluded.updated_at, "
        f"loads_since_reconcile = CASE WHEN ? THEN 0 ELSE coalesce({state}.loads_since_reconcile, 0) + 1 END",
        [request.table, request.cursor_column, watermark, *[request.source_keys_file is not None] * 2],
    )
