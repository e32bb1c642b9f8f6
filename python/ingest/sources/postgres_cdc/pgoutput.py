"""Decode PostgreSQL's ``pgoutput`` logical replication messages (protocol version 1).

The format is PostgreSQL's own, documented in "Logical Replication Message Formats" (chapter
55.9 of the PostgreSQL 15 manual). Each message is one row of
``pg_logical_slot_peek_binary_changes(..., 'proto_version', '1', 'publication_names', ...)``.
Only what a table's change stream needs is decoded: Begin, Commit, Relation, Insert, Update,
Delete and Truncate; Origin, Type and logical Message rows are recognised and skipped.

Why our own decoder: the one library on PyPI (``pypgoutput`` 0.0.3, unmaintained since 2022)
requires ``psycopg2`` built from source, which a fresh laptop or a hosted runner cannot install;
the format is a few fixed-width fields, so the decoder is this one module.

Column values arrive in PostgreSQL's text output format (``t``), as NULL (``n``), or as
"unchanged TOASTed value" (``u``: a large value an UPDATE did not change, not sent unless the
table has ``REPLICA IDENTITY FULL``, whose old tuple carries it).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ingest.errors import SourceError

UNCHANGED_TOAST = object()
"""Stands for a column value PostgreSQL did not send (``u``): unchanged and TOASTed."""

TupleValue = str | None | object
"""A decoded column value: its text form, None for NULL, or :data:`UNCHANGED_TOAST`."""


@dataclass(frozen=True)
class Column:
    """A column of a published relation: its name, type OID and whether it is in the replica identity."""

    name: str
    type_oid: int
    in_key: bool


@dataclass(frozen=True)
class Relation:
    """A relation (table) description, sent before the first change to it in a session."""

    oid: int
    namespace: str
    name: str
    replica_identity: str  # d (default: primary key), n (nothing), f (full), i (index)
    columns: tuple[Column, ...]


@dataclass(frozen=True)
class Begin:
    """Start of a transaction; ``final_lsn`` is its commit record's LSN."""

    final_lsn: int
    xid: int


@dataclass(frozen=True)
class Commit:
    """End of a transaction; ``end_lsn`` is the LSN just past it (what a slot is advanced to)."""

    commit_lsn: int
    end_lsn: int


@dataclass(frozen=True)
class Insert:
    """A new row: ``new`` has one value per column of the relation."""

    relation_oid: int
    new: tuple[TupleValue, ...]


@dataclass(frozen=True)
class Update:
    """A changed row. ``old`` is the old key (``K``), the whole old row (``O``, replica identity
    full) or None (the key did not change and identity is not full)."""

    relation_oid: int
    old: tuple[TupleValue, ...] | None
    old_is_key_only: bool
    new: tuple[TupleValue, ...]


@dataclass(frozen=True)
class Delete:
    """A deleted row: its key (``K``; other columns NULL) or its whole old row (``O``)."""

    relation_oid: int
    old: tuple[TupleValue, ...]


@dataclass(frozen=True)
class Truncate:
    """``TRUNCATE`` of one or more relations."""

    relation_oids: tuple[int, ...]


Message = Relation | Begin | Commit | Insert | Update | Delete | Truncate | None


class PgoutputError(SourceError):
    """A message that is not valid pgoutput protocol version 1."""


class _Reader:
    """Big-endian fields read in order from one message."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._at = 0

    def take(self, size: int) -> bytes:
        end = self._at + size
        if end > len(self._data):
            raise PgoutputError(f"message ends after {len(self._data)} bytes; needed {end}")
        chunk = self._data[self._at:end]
        self._at = end
        return chunk

    def byte(self) -> str:
        return self.take(1).decode("ascii")

    def int8(self) -> int:
        return self.take(1)[0]

    def int16(self) -> int:
        return int(struct.unpack(">h", self.take(2))[0])

    def int32(self) -> int:
        return int(struct.unpack(">i", self.take(4))[0])

    def int64(self) -> int:
        return int(struct.unpack(">q", self.take(8))[0])

    def string(self) -> str:
        end = self._data.index(b"\x00", self._at)
        text = self._data[self._at:end].decode("utf-8")
        self._at = end + 1
        return text

    def tuple_data(self) -> tuple[TupleValue, ...]:
        values: list[TupleValue] = []
        for _ in range(self.int16()):
            kind = self.byte()
            if kind == "n":
                values.append(None)
            elif kind == "u":
                values.append(UNCHANGED_TOAST)
            elif kind == "t":
                values.append(self.take(self.int32()).decode("utf-8"))
            else:  # 'b' (binary) is only sent when the 'binary' option is on, which we never set
                raise PgoutputError(f"unexpected tuple value kind {kind!r}")
        return tuple(values)


def decode(data: bytes) -> Message:
    """Decode one pgoutput message.

    Args:
        data: The message bytes (the ``data`` column of a binary changes row).

    Returns:
        The message, or None for kinds a table's change stream does not need (Origin ``O``,
        Type ``Y``, logical Message ``M``).

    Raises:
        PgoutputError: If the bytes are not a protocol version 1 message.
    """
    reader = _Reader(bytes(data))
    kind = reader.byte()
    if kind == "B":
        final_lsn, _timestamp, xid = reader.int64(), reader.int64(), reader.int32()
        return Begin(final_lsn, xid)
    if kind == "C":
        _flags, commit_lsn, end_lsn = reader.int8(), reader.int64(), reader.int64()
        return Commit(commit_lsn, end_lsn)
    if kind == "R":
        oid, namespace, name = reader.int32(), reader.string(), reader.string()
        identity = chr(reader.int8())
        columns = []
        for _ in range(reader.int16()):
            flags, column, type_oid, _modifier = reader.int8(), reader.string(), reader.int32(), reader.int32()
            columns.append(Column(column, type_oid, bool(flags & 1)))
        return Relation(oid, namespace, name, identity, tuple(columns))
    if kind == "I":
        oid = reader.int32()
        if reader.byte() != "N":
            raise PgoutputError("an Insert message without its new tuple")
        return Insert(oid, reader.tuple_data())
    if kind == "U":
        oid = reader.int32()
        marker = reader.byte()
        old = None
        if marker in ("K", "O"):
            old = reader.tuple_data()
            new_marker = reader.byte()
        else:
            new_marker = marker
        if new_marker != "N":
            raise PgoutputError("an Update message without its new tuple")
        return Update(oid, old, marker == "K", reader.tuple_data())
    if kind == "D":
        oid = reader.int32()
        if reader.byte() not in ("K", "O"):
            raise PgoutputError("a Delete message without its old key or row")
        return Delete(oid, reader.tuple_data())
    if kind == "T":
        count, _options = reader.int32(), reader.int8()
        return Truncate(tuple(reader.int32() for _ in range(count)))
    if kind in ("O", "Y", "M"):
        return None
    raise PgoutputError(f"unknown pgoutput message kind {kind!r}")


def format_lsn(lsn: int) -> str:
    """An LSN as PostgreSQL writes it, e.g. ``0/16B3748``."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def parse_lsn(text: str) -> int:
    """Parse PostgreSQL's ``X/Y`` LSN text.

    Raises:
        ValueError: If the text is not an LSN.
    """
    high, sep, low = text.strip().partition("/")
    if not sep:
        raise ValueError(f"not an LSN: {text!r}")
    return (int(high, 16) << 32) | int(low, 16)
