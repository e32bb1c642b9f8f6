"""Generate TPC-H tables in an in-memory DuckDB database and stream them out as Arrow batches."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import duckdb
import duckdb_extension_tpch
import pyarrow as pa

from tpch_source.errors import GeneratorError


def tpch_extension_path() -> Path:
    """Locate the tpch extension shipped by the ``duckdb-extension-tpch`` wheel.

    Returns:
        Path of ``tpch.duckdb_extension`` built for the installed DuckDB version.

    Raises:
        GeneratorError: If the wheel holds no extension for this DuckDB version (the two
            packages must be pinned to the same version).
    """
    path = (
        Path(duckdb_extension_tpch.__file__).parent
        / "extensions"
        / f"v{duckdb.__version__}"
        / "tpch.duckdb_extension"
    )
    if not path.is_file():
        raise GeneratorError(
            f"no tpch extension for duckdb {duckdb.__version__} at {path}; pin "
            f"duckdb-extension-tpch to the same version as duckdb in requirements.txt"
        )
    return path


class TpchGenerator:
    """TPC-H data generated at one scale factor, held by an in-memory DuckDB connection.

    Use as a context manager; the data exists between ``__enter__`` and ``__exit__``.

    Args:
        scale_factor: TPC-H scale factor (1.0 is about 1 GB of raw data, 6,001,215 lineitem
            rows); must be positive.
    """

    def __init__(self, scale_factor: float) -> None:
        self.scale_factor = scale_factor
        self._connection: duckdb.DuckDBPyConnection | None = None

    def __enter__(self) -> TpchGenerator:
        connection = duckdb.connect()
        try:
            connection.execute(f"LOAD '{tpch_extension_path()}'")
            connection.execute("CALL dbgen(sf = ?)", [self.scale_factor])
        except duckdb.Error as exc:
            connection.close()
            raise GeneratorError(f"TPC-H generation failed: {exc}") from exc
        self._connection = connection
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    @property
    def _con(self) -> duckdb.DuckDBPyConnection:
        if self._connection is None:
            raise RuntimeError("TpchGenerator used outside its 'with' block")
        return self._connection

    def columns(self, table: str) -> list[tuple[str, str]]:
        """List a generated table's columns.

        Args:
            table: TPC-H table name, e.g. ``lineitem``.

        Returns:
            ``(column name, DuckDB type)`` pairs in table order, e.g.
            ``("l_tax", "DECIMAL(15,2)")``.
        """
        rows = self._con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = ? ORDER BY ordinal_position",
            [table],
        ).fetchall()
        return [(str(name), str(data_type)) for name, data_type in rows]

    def batches(self, table: str, batch_size: int) -> pa.RecordBatchReader:
        """Stream a generated table.

        Args:
            table: TPC-H table name.
            batch_size: Maximum rows per Arrow record batch.

        Returns:
            A reader yielding record batches of at most ``batch_size`` rows.
        """
        relation = self._con.table(table)
        return relation.to_arrow_reader(batch_size)
