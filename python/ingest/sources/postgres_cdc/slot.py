"""A table's logical replication slot on a PostgreSQL source: create, snapshot, peek, advance.

One slot (plugin ``pgoutput``) and one publication per ingested table. Changes are read with
``pg_logical_slot_peek_binary_changes``, which leaves the slot where it is, and the slot is moved
with ``pg_replication_slot_advance`` only once the destination has committed them: a worker
that dies in between reads the same changes again next time (and skips the transactions the
destination already holds, by LSN). Both are PostgreSQL's SQL interface to logical decoding
("Logical Decoding SQL Interface", PostgreSQL 15 manual, 49.4). The slot is created on a
replication connection (psycopg2's ``LogicalReplicationConnection``) with ``EXPORT_SNAPSHOT``, so
the initial snapshot reads exactly the rows the slot's first change follows.

Needs ``wal_level = logical`` on the server and a role with the REPLICATION attribute (or a
superuser) that owns the table (to create the publication) or a publication made by its owner.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

import psycopg2
import psycopg2.extras
from psycopg2 import sql
from sqlalchemy.engine import URL
from worker_kit.connection import describe_url

from ingest.errors import SourceConnectionError, SourceError
from ingest.sources.postgres_cdc.pgoutput import format_lsn, parse_lsn

_FETCH_ROWS = 10_000


class ReplicationSlot:
    """The slot and publication that carry one table's changes.

    Args:
        url: SQLAlchemy URL of the source database (any PostgreSQL driver name).
        slot: Replication slot name (lower case letters, digits and ``_``, at most 63).
        publication: Publication name; created ``FOR TABLE`` the ingested table when missing.

    Raises:
        SourceError: If the names are not valid slot names.
    """

    def __init__(self, url: URL, slot: str, publication: str) -> None:
        for what, name in (("--slot", slot), ("--publication", publication)):
            if not re.fullmatch(r"[a-z0-9_]{1,63}", name):
                raise SourceError(f"{what} {name!r}: use 1 to 63 lower case letters, digits and '_'")
        self.url = url
        self.slot = slot
        self.publication = publication

    def _connect(self, **extra: Any) -> Any:
        arguments = {"host": self.url.host, "port": self.url.port, "user": self.url.username,
                     "password": self.url.password, "dbname": self.url.database,
                     "application_name": "ingest", **dict(self.url.query), **extra}
        try:
            return psycopg2.connect(**{k: v for k, v in arguments.items() if v is not None})
        except psycopg2.OperationalError as exc:
            raise SourceConnectionError(self._message("connecting", exc)) from exc

    def _message(self, action: str, exc: BaseException) -> str:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return f"source {describe_url(self.url)}: {action}: {first}"

    @contextlib.contextmanager
    def _cursor(self, action: str) -> Iterator[Any]:
        connection = self._connect()
        try:
            with connection, connection.cursor() as cursor:
                yield cursor
        except psycopg2.Error as exc:
            raise SourceError(self._message(action, exc)) from exc
        finally:
            connection.close()

    def check_server(self) -> None:
        """Refuse a server that cannot decode logically.

        Raises:
            SourceError: If ``wal_level`` is not ``logical``; the message names the setting.
        """
        with self._cursor("reading wal_level") as cursor:
            cursor.execute("SHOW wal_level")
            level = cursor.fetchone()[0]
        if level != "logical":
            raise SourceError(
                f"source {describe_url(self.url)}: wal_level is {level!r}; change data capture needs "
                "wal_level = logical (ALTER SYSTEM SET wal_level = logical, or set it in postgresql.conf; "
                "on RDS/Aurora set rds.logical_replication = 1) and a server restart")

    def check_table(self, schema: str, table: str, key: tuple[str, ...], declared_key: tuple[str, ...]) -> None:
        """Refuse a table the stream cannot carry exactly, before anything is created for it.

        Args:
            schema: The table's schema.
            table: The table.
            key: The merge key the load uses.
            declared_key: The table's primary key (empty when it has none).

        Raises:
            SourceError: If the table has array columns (the snapshot reads arrays as JSON text,
                pgoutput sends PostgreSQL's ``{...}`` text); or if its replica identity would not
                name the merge key of a deleted row: no primary key and not ``REPLICA IDENTITY
                FULL`` (publishing such a table would also make the application's UPDATEs and
                DELETEs on it fail), or a ``--primary-key`` other than the declared one without
                ``FULL``.
        """
        with self._cursor(f"describing {schema}.{table}") as cursor:
            relation = sql.Identifier(schema, table).as_string(cursor)
            cursor.execute("SELECT a.attname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
                           "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped "
                           "AND t.typcategory = 'A' ORDER BY a.attnum", (relation,))
            arrays = [row[0] for row in cursor.fetchall()]
            cursor.execute("SELECT relreplident FROM pg_class WHERE oid = to_regclass(%s)", (relation,))
            identity = cursor.fetchone()[0]
        if arrays:
            raise SourceError(f"{schema}.{table} has array column(s) {', '.join(arrays)}, which postgres-cdc does "
                              "not load; load the table with --source sql, or expose the arrays as JSON in a view "
                              "loaded with --source sql")
        if identity == "f":
            return
        if identity != "d" or not declared_key:  # 'n' nothing, 'i' a unique index, or no primary key
            raise SourceError(f"{schema}.{table}'s replica identity is not its primary key nor FULL: PostgreSQL "
                              "would not say which key an UPDATE or DELETE changed (and, without a primary key, "
                              "refuses both once the table is published); run ALTER TABLE "
                              f"{schema}.{table} REPLICA IDENTITY FULL, or give it a primary key")
        if key != declared_key:
            raise SourceError(f"--primary-key {','.join(key)} is not {schema}.{table}'s primary key "
                              f"({','.join(declared_key)}): a DELETE carries only the primary key unless the table "
                              f"is REPLICA IDENTITY FULL; run ALTER TABLE {schema}.{table} REPLICA IDENTITY FULL")

    def confirmed_lsn(self) -> int | None:
        """The slot's confirmed position (``confirmed_flush_lsn``), or None when the slot does not exist."""
        with self._cursor("reading the replication slot") as cursor:
            cursor.execute("SELECT plugin, confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s",
                           (self.slot,))
            row = cursor.fetchone()
        if row is None:
            return None
        if row[0] != "pgoutput":
            raise SourceError(f"replication slot {self.slot!r} uses the {row[0]} plugin, not pgoutput; "
                              "choose another --slot")
        return parse_lsn(row[1])

    def ensure_publication(self, schema: str, table: str) -> None:
        """Create the publication for the table unless it exists and already publishes it.

        Raises:
            SourceError: If the publication exists without the table, or cannot be created.
        """
        with self._cursor(f"creating publication {self.publication}") as cursor:
            cursor.execute("SELECT count(*) FROM pg_publication WHERE pubname = %s", (self.publication,))
            if not cursor.fetchone()[0]:
                cursor.execute(sql.SQL("CREATE PUBLICATION {} FOR TABLE {}").format(
                    sql.Identifier(self.publication), sql.Identifier(schema, table)))
                return
            cursor.execute("SELECT count(*) FROM pg_publication_tables WHERE pubname = %s AND schemaname = %s "
                           "AND tablename = %s", (self.publication, schema, table))
            if not cursor.fetchone()[0]:
                raise SourceError(f"publication {self.publication!r} does not publish {schema}.{table}; run "
                                  f"ALTER PUBLICATION {self.publication} ADD TABLE {schema}.{table}, or choose "
                                  "another --publication")

    @contextlib.contextmanager
    def create_with_snapshot(self) -> Iterator[tuple[int, str]]:
        """Create the slot and hold its exported snapshot open.

        Yields:
            ``(consistent_point, snapshot_name)``: the LSN the slot's first change follows, and
            a snapshot a ``REPEATABLE READ`` transaction imports with ``SET TRANSACTION SNAPSHOT``
            to read the rows as of that LSN. The snapshot is valid until the block ends.

        Raises:
            SourceError: If the slot cannot be created (it exists, too many slots, no REPLICATION
                privilege).
        """
        connection = self._connect(connection_factory=psycopg2.extras.LogicalReplicationConnection)
        try:
            try:
                cursor = connection.cursor()
                cursor.execute(f"CREATE_REPLICATION_SLOT {self.slot} LOGICAL pgoutput EXPORT_SNAPSHOT")
                _name, consistent_point, snapshot, _plugin = cursor.fetchone()
            except psycopg2.Error as exc:
                raise SourceError(self._message(f"creating replication slot {self.slot}", exc)) from exc
            yield parse_lsn(consistent_point), snapshot
        finally:
            connection.close()

    def current_lsn(self) -> int:
        """The server's WAL flush position: a run reads the transactions that commit before it.

        The flush position, not the write position: decoding reads flushed WAL only, and the
        slot is advanced to this position once the run's changes are applied, so a commit
        written but not yet flushed must not lie before it.
        """
        with self._cursor("reading the WAL position") as cursor:
            cursor.execute("SELECT pg_current_wal_flush_lsn()::text")
            return parse_lsn(cursor.fetchone()[0])

    def peek(self, upto_lsn: int) -> Iterator[tuple[int, bytes]]:
        """The slot's pending messages of transactions committed before ``upto_lsn``, in order.

        Streams through a server-side cursor, ``_FETCH_ROWS`` messages at a time; the slot
        does not move.

        Yields:
            ``(lsn, message)`` pairs; decode messages with :func:`.pgoutput.decode`.

        Raises:
            SourceError: If the slot is in use by another process or the server fails.
        """
        connection = self._connect()
        try:
            with connection, connection.cursor(name="ingest_cdc_changes") as cursor:
                cursor.itersize = _FETCH_ROWS
                cursor.execute(
                    "SELECT lsn::text, data FROM pg_logical_slot_peek_binary_changes(%s, %s::pg_lsn, NULL, "
                    "'proto_version', '1', 'publication_names', %s)",
                    (self.slot, format_lsn(upto_lsn), self.publication))
                for lsn, data in cursor:
                    yield parse_lsn(lsn), bytes(data)
        except psycopg2.Error as exc:
            raise SourceError(self._message(f"reading replication slot {self.slot}", exc)) from exc
        finally:
            connection.close()

    def advance(self, lsn: int) -> None:
        """Confirm every change before ``lsn``: the server may then recycle that WAL.

        Raises:
            SourceError: If the slot cannot be advanced (in use by another process).
        """
        with self._cursor(f"advancing replication slot {self.slot}") as cursor:
            cursor.execute("SELECT pg_replication_slot_advance(%s, %s::pg_lsn)", (self.slot, format_lsn(lsn)))

    def drop(self) -> None:
        """Drop the slot (the next run takes a new snapshot).

        Raises:
            SourceError: If the slot is in use by another process.
        """
        with self._cursor(f"dropping replication slot {self.slot}") as cursor:
            cursor.execute("SELECT pg_drop_replication_slot(%s)", (self.slot,))
