"""The target tables: TPC-H columns with declared types and primary keys, as SQLAlchemy tables."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeEngine

from tpch_source.errors import GeneratorError

# Load order: dimension tables first, so a partially built target (never visible, but useful
# when reading logs) fills in the same order as TPC-H's own loaders.
TABLES: tuple[str, ...] = (
    "region",
    "nation",
    "supplier",
    "customer",
    "part",
    "partsupp",
    "orders",
    "lineitem",
)

PRIMARY_KEYS: Mapping[str, tuple[str, ...]] = {
    "region": ("r_regionkey",),
    "nation": ("n_nationkey",),
    "supplier": ("s_suppkey",),
    "customer": ("c_custkey",),
    "part": ("p_partkey",),
    "partsupp": ("ps_partkey", "ps_suppkey"),
    "orders": ("o_orderkey",),
    "lineitem": ("l_orderkey", "l_linenumber"),
}

# One row recording what the target holds, so a re-run at the same scale factor is a no-op.
METADATA_TABLE = "tpch_metadata"

_DECIMAL = re.compile(r"DECIMAL\((?P<precision>\d+),\s*(?P<scale>\d+)\)")
_SIMPLE_TYPES: Mapping[str, TypeEngine[Any]] = {
    "INTEGER": sa.Integer(),
    "BIGINT": sa.BigInteger(),
    "DATE": sa.Date(),
    "VARCHAR": sa.String(),
}


def sqlalchemy_type(duckdb_type: str) -> TypeEngine[Any]:
    """Map a DuckDB column type produced by ``dbgen`` to the SQLAlchemy type declared in the target.

    Args:
        duckdb_type: DuckDB type name, e.g. ``BIGINT`` or ``DECIMAL(15,2)``.

    Returns:
        The SQLAlchemy type (``Integer``, ``BigInteger``, ``Numeric(p, s)``, ``Date``, ``String``).

    Raises:
        GeneratorError: If the generator produced a type this mapping does not know.
    """
    decimal = _DECIMAL.fullmatch(duckdb_type)
    if decimal:
        return sa.Numeric(int(decimal["precision"]), int(decimal["scale"]))
    try:
        return _SIMPLE_TYPES[duckdb_type]
    except KeyError:
        raise GeneratorError(f"unexpected column type {duckdb_type!r} from dbgen") from None


def build_metadata(
    columns_by_table: Mapping[str, Sequence[tuple[str, str]]], schema: str | None
) -> sa.MetaData:
    """Declare the eight TPC-H tables and the metadata table.

    Args:
        columns_by_table: For each TPC-H table, its ``(column, DuckDB type)`` pairs.
        schema: Database schema of the tables; None for the connection's default.

    Returns:
        Metadata whose tables carry NOT NULL typed columns and primary keys.
    """
    metadata = sa.MetaData(schema=schema)
    for table in TABLES:
        key = PRIMARY_KEYS[table]
        sa.Table(
            table,
            metadata,
            *(
                sa.Column(
                    name,
                    sqlalchemy_type(kind),
                    primary_key=name in key,
                    nullable=False,
                    autoincrement=False,
                )
                for name, kind in columns_by_table[table]
            ),
        )
    metadata_table(metadata)
    return metadata


def metadata_table(metadata: sa.MetaData) -> sa.Table:
    """Declare (or return the already declared) one-row table describing the generated data.

    Args:
        metadata: Metadata to attach the table to; its schema is used.

    Returns:
        Table ``tpch_metadata(scale_factor, duckdb_version, generated_at)``.
    """
    key = f"{metadata.schema}.{METADATA_TABLE}" if metadata.schema else METADATA_TABLE
    if key in metadata.tables:
        return metadata.tables[key]
    return sa.Table(
        METADATA_TABLE,
        metadata,
        sa.Column("scale_factor", sa.Float(), nullable=False),
        sa.Column("duckdb_version", sa.String(), nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
    )
