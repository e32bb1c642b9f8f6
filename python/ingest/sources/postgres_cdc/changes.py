"""A table's changes, from decoded pgoutput messages to two Parquet files a merge can apply.

Changes are staged in commit order as text (PostgreSQL's output format) with a sequence number
and an operation: ``I`` insert, ``U`` update, ``D`` delete (its key only). An UPDATE that changes
the key is staged as ``D`` of the old key then ``U`` of the new. A ``TRUNCATE`` voids every
change before it. Then an embedded DuckDB keeps each key's last change after the last
``TRUNCATE`` (spilling to disk, never holding the changes in Python) and casts the text to the
table's Arrow types: the rows to upsert, and the keys to delete. Applying those two to the
destination gives the same rows as applying every change in order.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from ingest.errors import ConversionError, SourceError
from ingest.sources.base import SourceTable
from ingest.sources.postgres_cdc.pgoutput import (
    UNCHANGED_TOAST,
    Begin,
    Commit,
    Delete,
    Insert,
    Relation,
    Truncate,
    TupleValue,
    Update,
    decode,
)
from ingest.staging import ParquetStager

SEQ, OP = "_cdc_seq", "_cdc_op"


@dataclass
class StagedChanges:
    """The staged changes of one run.

    Attributes:
        file: Parquet file of every change (``_cdc_seq``, ``_cdc_op``, then each column as text).
        changes: Changes staged (inserts, updates and deletes of the table).
        transactions: Transactions read whose changes were staged (or held none of the table's).
        end_lsn: End LSN of the last transaction read: what the slot is advanced to once the
            destination holds the changes; None when no transaction was read.
        truncated_at: Sequence number of the last ``TRUNCATE`` of the table, or None.
        inserts, updates, deletes: The changes staged, by kind.
    """

    file: Path
    changes: int = 0
    transactions: int = 0
    end_lsn: int | None = None
    truncated_at: int | None = None
    inserts: int = 0
    updates: int = 0
    deletes: int = 0


class _Batch:
    """Changes being collected, column by column, until a batch is full."""

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self.columns: list[list[object]] = [[] for _ in schema]

    def add(self, seq: int, op: str, values: Iterable[str | None]) -> None:
        for column, value in zip(self.columns, (seq, op, *values), strict=True):
            column.append(value)

    def __len__(self) -> int:
        return len(self.columns[0])

    def take(self) -> pa.RecordBatch:
        batch = pa.record_batch([pa.array(c, type=f.type) for c, f in zip(self.columns, self.schema, strict=True)],
                                schema=self.schema)
        self.columns = [[] for _ in self.schema]
        return batch


class _Decoder:
    """Turns pgoutput messages into staged change rows for one table."""

    def __init__(self, table: SourceTable, schema: str, key: tuple[str, ...]) -> None:
        self.table = table
        self.schema = schema
        self.names = table.schema.names
        self.key = key
        self.relation: Relation | None = None
        self.positions: list[int | None] = []  # for each table column, its index in the relation

    def relation_seen(self, relation: Relation) -> None:
        if (relation.namespace, relation.name) != (self.schema, self.table.name):
            return
        sent = [column.name for column in relation.columns]
        unknown = [name for name in sent if name not in self.names]
        if unknown:
            raise SourceError(
                f"{self.schema}.{self.table.name} has column(s) {', '.join(unknown)} the destination table was not "
                "snapshotted with; to reload it, drop the replication slot (SELECT pg_drop_replication_slot(...)) "
                "and run again: the next run takes a new snapshot")
        self.relation = relation
        self.positions = [sent.index(name) if name in sent else None for name in self.names]

    def ours(self, oid: int) -> bool:
        return self.relation is not None and self.relation.oid == oid

    def row(self, values: tuple[TupleValue, ...], old: tuple[TupleValue, ...] | None = None) -> list[str | None]:
        row: list[str | None] = []
        for name, position in zip(self.names, self.positions, strict=True):
            value = None if position is None else values[position]
            if value is UNCHANGED_TOAST:
                value = old[position] if old is not None and position is not None else UNCHANGED_TOAST
                if value is UNCHANGED_TOAST:
                    raise ConversionError(
                        f"PostgreSQL did not send column {name!r} of {self.schema}.{self.table.name} for an UPDATE "
                        f"(an unchanged TOASTed value); run ALTER TABLE {self.schema}.{self.table.name} REPLICA "
                        "IDENTITY FULL so the old row carries it, then drop the slot and run again")
            row.append(value)  # type: ignore[arg-type]
        return row

    def key_of(self, row: list[str | None]) -> tuple[str | None, ...]:
        return tuple(row[self.names.index(column)] for column in self.key)

    def key_row(self, key: tuple[str | None, ...]) -> list[str | None]:
        """A staged row holding only the key (what a ``D`` change needs)."""
        values = dict(zip(self.key, key, strict=True))
        return [values.get(name) for name in self.names]


def stage_changes(messages: Iterator[tuple[int, bytes]], table: SourceTable, schema: str, key: tuple[str, ...],
                  applied_before: int, path: Path, batch_size: int) -> StagedChanges:
    """Decode a slot's messages and stage the table's changes in order.

    Args:
        messages: ``(lsn, message)`` pairs from :meth:`.slot.ReplicationSlot.peek`.
        table: The source table (its columns and Arrow schema, as the snapshot read it).
        schema: The table's source schema.
        key: The merge key.
        applied_before: The destination's stored position (an end LSN): transactions that
            commit before it were applied by an earlier run and are skipped.
        path: The staging file to write.
        batch_size: Changes per Parquet row group.

    Returns:
        What was staged.

    Raises:
        ConversionError: If an UPDATE lacks a TOASTed column (see the message for the fix).
        SourceError: If the table gained a column since its snapshot.
        PgoutputError: If a message is malformed.
    """
    staged_schema = pa.schema([(SEQ, pa.int64()), (OP, pa.string()), *[(name, pa.string()) for name in table.schema.names]])
    decoder = _Decoder(table, schema, key)
    staged = StagedChanges(path)
    batch = _Batch(staged_schema)
    skipping = False
    with ParquetStager(path, staged_schema) as stager:
        for _lsn, data in messages:
            message = decode(data)
            if isinstance(message, Begin):
                skipping = message.final_lsn < applied_before
            elif isinstance(message, Commit):
                if not skipping:
                    staged.transactions += 1
                    staged.end_lsn = message.end_lsn
            elif isinstance(message, Relation):
                decoder.relation_seen(message)
            elif skipping:
                continue
            elif isinstance(message, Insert) and decoder.ours(message.relation_oid):
                batch.add(staged.changes, "I", decoder.row(message.new))
                staged.changes += 1
                staged.inserts += 1
            elif isinstance(message, Update) and decoder.ours(message.relation_oid):
                new = decoder.row(message.new, None if message.old_is_key_only else message.old)
                if message.old is not None:  # the old key ('K': it changed) or the whole old row ('O')
                    old_key = decoder.key_of(decoder.row(message.old))
                    if old_key != decoder.key_of(new):
                        batch.add(staged.changes, "D", decoder.key_row(old_key))
                        staged.changes += 1
                batch.add(staged.changes, "U", new)
                staged.changes += 1
                staged.updates += 1
            elif isinstance(message, Delete) and decoder.ours(message.relation_oid):
                batch.add(staged.changes, "D", decoder.key_row(decoder.key_of(decoder.row(message.old))))
                staged.changes += 1
                staged.deletes += 1
            elif isinstance(message, Truncate) and any(decoder.ours(oid) for oid in message.relation_oids):
                staged.truncated_at = staged.changes
                staged.changes += 1
            if len(batch) >= batch_size:
                stager.write(batch.take())
        if len(batch):
            stager.write(batch.take())
        stager.finish()
    return staged


@dataclass(frozen=True)
class NetChanges:
    """Each key's last change: the rows to upsert and the keys to delete.

    Attributes:
        upserts: Parquet file of rows (the table's Arrow schema) inserted or updated, one per key.
        deleted_keys: Parquet file of keys (the key columns) whose last change is a delete.
        upsert_rows: Rows in ``upserts``.
        deleted_rows: Keys in ``deleted_keys``.
        upserted_keys: After a ``TRUNCATE``: Parquet file of the keys in ``upserts`` (every key the
            table holds now); else None.
    """

    upserts: Path
    deleted_keys: Path
    upsert_rows: int
    deleted_rows: int
    upserted_keys: Path | None = None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _typed(name: str, arrow_type: pa.DataType, where: str) -> str:
    """DuckDB expression casting a column's PostgreSQL text output to its Arrow type's equivalent."""
    column = _quote(name)
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return column
    if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
        return f"from_hex(substr({column}, 3))"  # bytea's hex output: \x0a1b...
    if pa.types.is_decimal(arrow_type):
        return f"CAST({column} AS DECIMAL({arrow_type.precision}, {arrow_type.scale}))"
    if pa.types.is_timestamp(arrow_type):
        return f"CAST({column} AS {'TIMESTAMPTZ' if arrow_type.tz else 'TIMESTAMP'})"
    for check, duck in ((pa.types.is_integer, "BIGINT"), (pa.types.is_floating, "DOUBLE"),
                        (pa.types.is_boolean, "BOOLEAN"), (pa.types.is_date, "DATE"), (pa.types.is_time, "TIME")):
        if check(arrow_type):
            return f"CAST({column} AS {duck})"
    raise ConversionError(f"column {name!r} of {where} has type {arrow_type}, which postgres-cdc cannot convert "
                          "from PostgreSQL's text output; load the table with --source sql instead")


def net_changes(staged: StagedChanges, table: SourceTable, key: tuple[str, ...], folder: Path,
                batch_size: int, memory_limit: str = "512MB") -> NetChanges:
    """Reduce staged changes to each key's last one, typed as the table's Arrow schema.

    Args:
        staged: What :func:`stage_changes` wrote.
        table: The source table (its Arrow schema is the upserts' schema).
        key: The merge key.
        folder: Where to write the two files (and DuckDB's spill files).
        batch_size: Rows per written batch.
        memory_limit: DuckDB's memory limit for the reduction; it spills to ``folder`` beyond it.

    Returns:
        The two files and their row counts.

    Raises:
        ConversionError: If a value does not convert to its column's type.
    """
    where = table.name
    typed = ", ".join(f"{_typed(f.name, f.type, where)} AS {_quote(f.name)}" for f in table.schema)
    typed_key = ", ".join(f"{_typed(k, table.schema.field(k).type, where)} AS {_quote(k)}" for k in key)
    after = -1 if staged.truncated_at is None else staged.truncated_at
    partition = ", ".join(_quote(k) for k in key)
    key_schema = pa.schema([table.schema.field(k) for k in key])
    spill = folder / "duckdb_spill"
    spill.mkdir(exist_ok=True)
    connection = duckdb.connect(config={"memory_limit": memory_limit, "temp_directory": str(spill), "threads": 2})
    with contextlib.closing(connection):
        escaped = str(staged.file).replace("'", "''")
        connection.execute(
            f"CREATE TEMP TABLE latest AS SELECT * FROM read_parquet('{escaped}') WHERE {SEQ} > {after} "
            f"QUALIFY row_number() OVER (PARTITION BY {partition} ORDER BY {SEQ} DESC) = 1")
        upserts = _write(connection, f"SELECT {typed} FROM latest WHERE {OP} <> 'D'", table.schema,
                         folder / "upserts.parquet", batch_size, where)
        deleted = _write(connection, f"SELECT {typed_key} FROM latest WHERE {OP} = 'D'", key_schema,
                         folder / "deleted_keys.parquet", batch_size, where)
        upserted_keys = None
        if staged.truncated_at is not None:
            upserted_keys = folder / "upserted_keys.parquet"
            _write(connection, f"SELECT {typed_key} FROM latest WHERE {OP} <> 'D'", key_schema, upserted_keys,
                   batch_size, where)
    return NetChanges(folder / "upserts.parquet", folder / "deleted_keys.parquet", upserts, deleted, upserted_keys)


def _write(connection: duckdb.DuckDBPyConnection, query: str, schema: pa.Schema, path: Path, batch_size: int,
           where: str) -> int:
    """Stream a query's result, cast to ``schema``, into a Parquet file; the rows written."""
    rows = 0
    try:
        reader = connection.execute(query).fetch_record_batch(batch_size)
        with ParquetStager(path, schema) as stager:
            for batch in reader:
                stager.write(batch.cast(schema))
                rows += batch.num_rows
            stager.finish()
    except duckdb.ConversionException as exc:
        raise ConversionError(f"a change of {where}: {str(exc).splitlines()[0]}") from exc
    return rows

