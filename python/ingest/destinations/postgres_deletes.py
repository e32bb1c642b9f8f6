"""Deletes in a PostgreSQL destination: rows whose key the source no longer has, or deleted keys.

Part of a merge's transaction (:func:`ingest.destinations.postgres_apply.apply_load`): a full merge
compares with the staged rows, ``--reconcile-keys`` with every source key, change data capture
names the deleted keys. ``soft`` sets ``_deleted_at``, ``hard`` deletes the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from psycopg import sql

from ingest.destinations.base import DELETED_AT_COLUMN, DeleteMode, LoadRequest
from ingest.destinations.postgres_copy import copy_parquet
from ingest.destinations.postgres_types import PostgresColumn

_SOURCE_KEYS = sql.Identifier("_ingest_source_keys")
_DELETED_KEYS = sql.Identifier("_ingest_deleted_keys")


def apply_deletes(cursor: Any, target: sql.Identifier, staged: sql.Identifier, request: LoadRequest,
                  columns: Sequence[PostgresColumn]) -> int:
    """Apply ``request.deletes`` after a merge; how many rows were marked or removed.

    Args:
        cursor: psycopg cursor inside the load's transaction.
        target: The destination table.
        staged: The merge's staged rows (a temporary table): the source's keys of a full merge.
        request: The load: ``deleted_keys_file`` (those keys), else ``source_keys_file`` (keys
            missing from it), else the keys missing from ``staged``.
        columns: The staging file's columns as PostgreSQL types (for the key tables).

    Raises:
        psycopg.Error: If PostgreSQL rejects a statement.
    """
    if request.deleted_keys_file is not None:
        keys = _stage_keys(cursor, _DELETED_KEYS, request.deleted_keys_file, request.primary_key, columns)
        return _delete_keys(cursor, target, keys, request, listed=True)
    keys = staged if request.source_keys_file is None else _stage_keys(
        cursor, _SOURCE_KEYS, request.source_keys_file, request.primary_key, columns)
    return _delete_keys(cursor, target, keys, request)


def _delete_keys(cursor: Any, target: sql.Identifier, source: sql.Identifier, request: LoadRequest,
                 listed: bool = False) -> int:
    """Mark (soft) or remove (hard) the rows whose key is not in ``source`` (staged rows or every
    source key), or with ``listed`` the rows whose key is in it (deleted keys); how many."""
    if request.deletes is DeleteMode.IGNORE:
        return 0
    missing = sql.SQL("{} EXISTS (SELECT 1 FROM {} AS s WHERE {})").format(
        sql.SQL("" if listed else "NOT"), source, key_match(request.primary_key))
    if request.deletes is DeleteMode.HARD:
        cursor.execute(sql.SQL("DELETE FROM {} AS t WHERE {}").format(target, missing))
    else:
        deleted_at = sql.Identifier(DELETED_AT_COLUMN)
        cursor.execute(sql.SQL("UPDATE {target} AS t SET {d} = now() WHERE t.{d} IS NULL AND {missing}").format(
            target=target, d=deleted_at, missing=missing))
    return int(cursor.rowcount)


def _stage_keys(cursor: Any, name: sql.Identifier, keys_file: Path, key: Sequence[str],
                columns: Sequence[PostgresColumn]) -> sql.Identifier:
    """Copy a Parquet file of keys into a temporary table ``name`` dropped at commit."""
    types = {c.name: c.type for c in columns}
    cursor.execute(sql.SQL("CREATE TEMPORARY TABLE {} ({}) ON COMMIT DROP").format(
        name, sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(k), sql.SQL(types[k])) for k in key)))
    copy_parquet(cursor, name, list(key), keys_file)
    return name


def key_match(key: Sequence[str]) -> sql.Composable:
    """``t.k1 = s.k1 AND ...``."""
    return sql.SQL(" AND ").join(
        sql.SQL("{} = {}").format(sql.Identifier("t", k), sql.Identifier("s", k)) for k in key)
