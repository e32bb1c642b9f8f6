"""The body of a PostgreSQL load transaction: COPY, schema evolution, replace/append/merge, state.

Every function here runs inside the caller's open transaction on one psycopg connection; the
caller commits or rolls back. The strategy per write disposition:

* replace: the table is emptied with ``TRUNCATE`` when its columns are exactly the staged ones
  (dependent views, grants and indexes survive), otherwise dropped and created again; the staged
  rows are then copied straight into it. ``TRUNCATE`` is transactional in PostgreSQL, so other
  sessions keep seeing the old rows until the commit.
* append and merge: rows are copied into a temporary staging table (not WAL-logged, dropped at
  commit), then ``INSERT ... SELECT`` appends them, or merge runs ``UPDATE ... FROM`` for keys
  whose values changed (``IS DISTINCT FROM``, so unchanged rows are neither written nor counted)
  followed by ``INSERT ... WHERE NOT EXISTS`` for new keys. That needs no unique index, though a
  table a merge creates gets the key as its primary key, so later merges find rows by index.

The semantics and the counts are the DuckDB destination's (:mod:`.duckdb_apply`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from psycopg import sql

from ingest.destinations.base import (
    DELETED_AT_COLUMN,
    LOADED_AT_COLUMN,
    STATE_TABLE,
    DeleteMode,
    LoadRequest,
    LoadResult,
    WriteDisposition,
)
from ingest.destinations.postgres_copy import copy_batches, copy_parquet
from ingest.destinations.postgres_deletes import apply_deletes, key_match
from ingest.destinations.postgres_types import PostgresColumn
from ingest.errors import PrimaryKeyError, SchemaConflictError
from ingest.watermark import CursorValue, format_cursor_value, later

logger = logging.getLogger(__name__)

_STAGED = sql.Identifier("_ingest_staged")
_DEDUPLICATED = sql.Identifier("_ingest_deduplicated")
# Order in which rows were staged, to keep the last row read for a repeated key.
_STAGED_ROW = "_ingest_staged_row"
_LOADED_AT_TYPE = "timestamp with time zone"
# Namespace of the advisory lock that serialises the creation of schemas and state tables.
_SETUP_LOCK = 0x1A6E57


def _names(columns: Sequence[str], prefix: str | None = None) -> sql.Composed:
    """``"a", "b"`` or, with a prefix, ``p."a", p."b"``."""
    if prefix is None:
        return sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    return sql.SQL(", ").join(sql.Identifier(prefix, c) for c in columns)


def table_columns(cursor: Any, schema: str, table: str) -> list[PostgresColumn] | None:
    """The columns of ``schema.table`` with their ``format_type`` names; None if it is absent."""
    cursor.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a "
        "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attnum",
        (sql.Identifier(schema, table).as_string(cursor),),
    )
    rows = cursor.fetchall()
    if rows:
        return [PostgresColumn(str(name), str(kind)) for name, kind in rows]
    cursor.execute("SELECT to_regclass(%s)", (sql.Identifier(schema, table).as_string(cursor),))
    row = cursor.fetchone()
    return None if row is None or row[0] is None else []


def prepare_schema(cursor: Any, schema: str, with_state: bool) -> None:
    """Create the schema (and the state table) if missing; run in its own short transaction.

    ``CREATE ... IF NOT EXISTS`` is not safe against another session creating the same object
    at the same moment, so workers loading tables in parallel take an advisory lock first.
    """
    cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_SETUP_LOCK, schema))
    cursor.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    if with_state:
        cursor.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (destination_table text PRIMARY KEY, "
                "cursor_column text NOT NULL, watermark text, updated_at timestamptz NOT NULL, "
                "loads_since_reconcile integer NOT NULL DEFAULT 0)"
            ).format(sql.Identifier(schema, STATE_TABLE))
        )
        # a state table written before --reconcile-every existed
        cursor.execute(sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS loads_since_reconcile integer NOT NULL "
                               "DEFAULT 0").format(sql.Identifier(schema, STATE_TABLE)))


def read_state(cursor: Any, schema: str, table: str) -> tuple[str, str | None, int] | None:
    """``(cursor_column, watermark, loads_since_reconcile)`` stored for ``schema.table``; None if there is none."""
    state = sql.Identifier(schema, STATE_TABLE)
    cursor.execute("SELECT to_regclass(%s)", (state.as_string(cursor),))
    row = cursor.fetchone()
    if row is None or row[0] is None:
        return None
    cursor.execute("SELECT count(*) FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
                   "AND column_name = 'loads_since_reconcile'", (schema, STATE_TABLE))
    count = sql.SQL("loads_since_reconcile" if cursor.fetchone()[0] else "0")  # before --reconcile-every existed
    cursor.execute(
        sql.SQL("SELECT cursor_column, watermark, {} FROM {} WHERE destination_table = %s").format(count, state),
        (table,),
    )
    found = cursor.fetchone()
    return None if found is None else (str(found[0]), found[1], int(found[2]))


def apply_load(cursor: Any, request: LoadRequest, columns: Sequence[PostgresColumn]) -> LoadResult:
    """Apply a staged load; the caller owns the transaction.

    Args:
        cursor: psycopg cursor of a connection with an open transaction.
        request: The load to apply.
        columns: The staging file's columns as PostgreSQL types.

    Returns:
        Rows inserted or updated, and rows deleted per ``request.deletes``.

    Raises:
        PrimaryKeyError: If a merge key column holds NULL in the staged rows.
        SchemaConflictError: If a staged column's type differs from the existing column's.
        psycopg.Error: If PostgreSQL rejects a statement.
    """
    target = sql.Identifier(request.schema, request.table)
    names = [c.name for c in columns]
    existing = table_columns(cursor, request.schema, request.table)
    deleted = 0
    if request.write_disposition is WriteDisposition.REPLACE:
        _empty_for_replace(cursor, request, columns, existing)
        rows = _copy(cursor, target, names, request)
    else:
        merge = request.write_disposition is WriteDisposition.MERGE
        _stage(cursor, request, columns, numbered=merge and not request.primary_key_unique)
        if existing is None:
            _create(cursor, target, columns, request.primary_key if merge else ())
        else:
            _add_new_columns(cursor, request, columns, existing)
        if merge:
            if request.deletes is DeleteMode.SOFT:
                cursor.execute(sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} timestamptz").format(
                    target, sql.Identifier(DELETED_AT_COLUMN)))
            source = _unique_on_key(cursor, request, names)
            # A row the source sends is live, whatever this load's --deletes (see duckdb_apply).
            revive = request.deletes is DeleteMode.SOFT or any(c.name == DELETED_AT_COLUMN for c in existing or ())
            rows = _merge(cursor, target, source, names, request, revive)
            deleted = apply_deletes(cursor, target, source, request, columns)
        else:
            rows = _append(cursor, target, names, request)
    stream = request.staged_stream
    if stream is None:
        _store_state(cursor, request, request.watermark)
        return LoadResult(rows, deleted)
    watermark = later(request.lower_bound, stream.maximum) if request.cursor_column else None
    _store_state(cursor, request, watermark)
    return LoadResult(rows, deleted, stream.rows, watermark)


def _copy(cursor: Any, table: sql.Composable, names: Sequence[str], request: LoadRequest) -> int:
    """Copy the load's rows (the staging file, or the source's batches as they are read) into ``table``."""
    if request.staged_stream is not None:
        return copy_batches(cursor, table, request.staged_stream.schema, request.staged_stream)
    return copy_parquet(cursor, table, names, request.staging_file)


def _create(
    cursor: Any, target: sql.Identifier, columns: Sequence[PostgresColumn], key: Sequence[str]
) -> None:
    definitions = [sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.type)) for c in columns]
    definitions.append(
        sql.SQL("{} timestamptz NOT NULL DEFAULT now()").format(sql.Identifier(LOADED_AT_COLUMN))
    )
    if key:
        definitions.append(sql.SQL("PRIMARY KEY ({})").format(_names(key)))
    cursor.execute(
        sql.SQL("CREATE TABLE {} ({})").format(target, sql.SQL(", ").join(definitions))
    )


def _empty_for_replace(
    cursor: Any,
    request: LoadRequest,
    columns: Sequence[PostgresColumn],
    existing: list[PostgresColumn] | None,
) -> None:
    """Leave an empty target with exactly the staged columns, ready for COPY."""
    target = sql.Identifier(request.schema, request.table)
    wanted = [*columns, PostgresColumn(LOADED_AT_COLUMN, _LOADED_AT_TYPE)]
    if existing == wanted:
        cursor.execute(sql.SQL("TRUNCATE TABLE {}").format(target))
        # COPY leaves _loaded_at to its default; a table created elsewhere may lack it.
        cursor.execute(
            sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET DEFAULT now()").format(
                target, sql.Identifier(LOADED_AT_COLUMN)
            )
        )
        return
    if existing is not None:
        logger.info("the columns of %s.%s changed; recreating it", request.schema, request.table)
        cursor.execute(sql.SQL("DROP TABLE {}").format(target))
    _create(cursor, target, columns, ())


def _stage(
    cursor: Any, request: LoadRequest, columns: Sequence[PostgresColumn], numbered: bool
) -> None:
    """Copy the load's rows into a temporary table dropped at commit."""
    definitions = [sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.type)) for c in columns]
    if numbered:
        definitions.append(
            sql.SQL("{} bigint GENERATED ALWAYS AS IDENTITY").format(sql.Identifier(_STAGED_ROW))
        )
    cursor.execute(
        sql.SQL("CREATE TEMPORARY TABLE {} ({}) ON COMMIT DROP").format(
            _STAGED, sql.SQL(", ").join(definitions)
        )
    )
    _copy(cursor, _STAGED, [c.name for c in columns], request)


def _add_new_columns(
    cursor: Any,
    request: LoadRequest,
    columns: Sequence[PostgresColumn],
    existing: Sequence[PostgresColumn],
) -> None:
    """Add staged columns the table lacks; refuse columns whose type changed."""
    current = {c.name: c.type for c in existing}
    target = sql.Identifier(request.schema, request.table)
    for column in columns:
        kind = current.get(column.name)
        if kind is None:
            logger.info("adding column %s %s to %s", column.name, column.type, request.table)
            cursor.execute(
                sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(
                    target, sql.Identifier(column.name), sql.SQL(column.type)
                )
            )
        elif kind != column.type:
            raise SchemaConflictError(
                f"column {column.name!r} of {request.schema}.{request.table} is {kind} but the "
                f"source now sends {column.type}; migrate the column or reload with "
                f"--write-disposition replace"
            )


def _unique_on_key(cursor: Any, request: LoadRequest, names: Sequence[str]) -> sql.Identifier:
    """Check the merge key; return a relation holding one staged row per key (the last one)."""
    key = request.primary_key
    any_null = sql.SQL(" OR ").join(sql.SQL("{} IS NULL").format(sql.Identifier(k)) for k in key)
    distinct = sql.SQL("ROW({})").format(_names(key)) if len(key) > 1 else _names(key)
    duplicates = (
        sql.SQL("0")
        if request.primary_key_unique
        else sql.SQL("count(*) - count(DISTINCT {})").format(distinct)
    )
    cursor.execute(
        sql.SQL("SELECT count(*) FILTER (WHERE {}), {} FROM {}").format(
            any_null, duplicates, _STAGED
        )
    )
    nulls, repeated = cursor.fetchone() or (0, 0)
    if nulls:
        raise PrimaryKeyError(
            f"{nulls:,} source rows have NULL in primary key ({', '.join(key)}); "
            f"merge needs a non-null key"
        )
    if not repeated:
        return _STAGED
    logger.warning(
        "%s source rows repeat a primary key (%s); keeping the last row read for each key",
        f"{repeated:,}",
        ", ".join(key),
    )
    cursor.execute(
        sql.SQL(
            "CREATE TEMPORARY TABLE {} ON COMMIT DROP AS SELECT DISTINCT ON ({}) {} FROM {} "
            "ORDER BY {}, {} DESC"
        ).format(
            _DEDUPLICATED, _names(key), _names(names), _STAGED, _names(key),
            sql.Identifier(_STAGED_ROW),
        )  # fmt: skip
    )
    return _DEDUPLICATED


def _append(
    cursor: Any, target: sql.Identifier, names: Sequence[str], request: LoadRequest
) -> int:
    """Insert the staged rows.

    For an incremental append the source was read from ``cursor >= lower_bound``, so rows at
    exactly the lower bound may already be in the table: ``EXCEPT ALL`` against the table's rows
    at that value inserts each such row only as many times as it is missing (the DuckDB
    destination's rule).
    """
    columns = _names(names)
    rows = sql.SQL("SELECT {} FROM {}").format(columns, _STAGED)
    parameters: dict[str, Any] = {}
    if request.cursor_column is not None and request.lower_bound is not None:
        cursor_column = sql.Identifier(request.cursor_column)
        rows = sql.SQL(
            "{rows} WHERE {cursor} IS DISTINCT FROM %(bound)s "
            "UNION ALL (SELECT {columns} FROM {staged} WHERE {cursor} = %(bound)s "
            "EXCEPT ALL SELECT {columns} FROM {target} WHERE {cursor} = %(bound)s)"
        ).format(
            rows=rows, cursor=cursor_column, columns=columns, staged=_STAGED, target=target
        )
        parameters["bound"] = request.lower_bound
    cursor.execute(
        sql.SQL("INSERT INTO {} ({}, {}) SELECT {}, now() FROM ({}) AS staged_rows").format(
            target, columns, sql.Identifier(LOADED_AT_COLUMN), columns, rows
        ),
        parameters or None,
    )
    return int(cursor.rowcount)


def _merge(
    cursor: Any,
    target: sql.Identifier,
    source: sql.Identifier,
    names: Sequence[str],
    request: LoadRequest,
    revive: bool,
) -> int:
    """Update changed rows, then insert new keys; unchanged rows are not touched.

    With ``revive`` (the table has ``_deleted_at``), a row marked deleted whose key the source
    sends again is updated too, and its ``_deleted_at`` cleared.
    """
    key = request.primary_key
    on = key_match(key)
    loaded_at = sql.Identifier(LOADED_AT_COLUMN)
    values = [c for c in names if c not in key]
    assignments = [sql.SQL("{} = {}").format(sql.Identifier(c), sql.Identifier("s", c)) for c in values]
    assignments.append(sql.SQL("{} = now()").format(loaded_at))
    conditions: list[sql.Composable] = []
    if values:
        conditions.append(sql.SQL("({}) IS DISTINCT FROM ({})").format(_names(values, "t"), _names(values, "s")))
    if revive:
        conditions.append(sql.SQL("t.{} IS NOT NULL").format(sql.Identifier(DELETED_AT_COLUMN)))
        assignments.append(sql.SQL("{} = NULL").format(sql.Identifier(DELETED_AT_COLUMN)))
    updated = 0
    if conditions:
        cursor.execute(
            sql.SQL("UPDATE {target} AS t SET {assignments} FROM {source} AS s WHERE {on} AND ({changed})").format(
                target=target, assignments=sql.SQL(", ").join(assignments), source=source, on=on,
                changed=sql.SQL(" OR ").join(conditions))
        )
        updated = int(cursor.rowcount)
    cursor.execute(
        sql.SQL(
            "INSERT INTO {target} ({columns}, {loaded_at}) SELECT {s_columns}, now() "
            "FROM {source} AS s WHERE NOT EXISTS (SELECT 1 FROM {target} AS t WHERE {on})"
        ).format(
            target=target, columns=_names(names), loaded_at=loaded_at,
            s_columns=_names(names, "s"), source=source, on=on,
        )  # fmt: skip
    )
    return updated + int(cursor.rowcount)


def _store_state(cursor: Any, request: LoadRequest, watermark_value: CursorValue | None) -> None:
    """Record the watermark of an incremental load; a full replace forgets any old one."""
    state = sql.Identifier(request.schema, STATE_TABLE)
    if request.cursor_column is None:
        if request.write_disposition is WriteDisposition.REPLACE and read_state(
            cursor, request.schema, request.table
        ) is not None:
            cursor.execute(
                sql.SQL("DELETE FROM {} WHERE destination_table = %s").format(state),
                (request.table,),
            )
        return
    watermark = None if watermark_value is None else format_cursor_value(watermark_value)
    cursor.execute(
        sql.SQL(
            "INSERT INTO {} AS s (destination_table, cursor_column, watermark, updated_at, loads_since_reconcile) "
            "VALUES (%s, %s, %s, now(), CASE WHEN %s THEN 0 ELSE 1 END) ON CONFLICT (destination_table) DO UPDATE "
            "SET cursor_column = EXCLUDED.cursor_column, watermark = EXCLUDED.watermark, "
            "updated_at = EXCLUDED.updated_at, "
            "loads_since_reconcile = CASE WHEN %s THEN 0 ELSE s.loads_since_reconcile + 1 END"
        ).format(state),
        (request.table, request.cursor_column, watermark, *[request.source_keys_file is not None] * 2),
    )
