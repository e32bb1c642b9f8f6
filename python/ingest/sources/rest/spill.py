"""Unify per-batch inferred schemas: spill batches to disk, then replay them in one schema.

A REST API has no schema to reflect, so undeclared fields are typed batch by batch, and a later
batch may bring a new field or a field whose type drifted. Batches are therefore written to a
private temporary directory (Arrow IPC files, one per batch) while their schemas are unified,
then read back one at a time and conformed to the unified schema; memory holds one batch.

Unification, per field (type drift): equal types stay; null gives way to any type; int64 and
float64 become float64; any other mix becomes string, the values written as their JSON text
(``1`` becomes ``"1"``, ``true`` becomes ``"true"``). A field absent from a batch is null
there; a field that is null everywhere becomes a string column. Declared columns never drift.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pyarrow as pa
import pyarrow.compute as pc
from worker_kit.orphans import OwnedDirectory

from ingest.sources.rest.columns import to_text

SPILL_PREFIX = ".ingest-rest-spill-"


def unify_types(first: pa.DataType, second: pa.DataType) -> pa.DataType:
    """The type two batches' types of one field unify to (see the module docstring)."""
    if first == second:
        return first
    if pa.types.is_null(first):
        return second
    if pa.types.is_null(second):
        return first
    if {first, second} == {pa.int64(), pa.float64()}:
        return pa.float64()
    return pa.string()


def unify_schemas(first: pa.Schema, second: pa.Schema) -> pa.Schema:
    """``first``'s fields, unified with ``second``'s, then ``second``'s new fields in order."""
    fields = {field.name: field.type for field in first}
    for field in second:
        fields[field.name] = unify_types(fields[field.name], field.type) if field.name in fields else field.type
    return pa.schema([pa.field(name, kind) for name, kind in fields.items()])


def conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """The batch with exactly ``schema``'s columns: widened, or null where the batch lacks one."""
    arrays = []
    for field in schema:
        index = batch.schema.get_field_index(field.name)
        if index < 0:
            arrays.append(pa.nulls(batch.num_rows, field.type))
            continue
        array = batch.column(index)
        if array.type != field.type:
            array = to_text(array) if pa.types.is_string(field.type) else pc.cast(array, field.type)
        arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


class Spill:
    """Batches of varying schemas in, batches of their unified schema out.

    Use as a context manager: :meth:`add` every batch, then iterate :meth:`replay`. The
    directory is removed on exit; one left by a killed worker is removed by the next one.

    Args:
        parent: Directory for the spill directory; defaults to the system's temporary one.
    """

    def __init__(self, parent: Path | None = None) -> None:
        self._directory = OwnedDirectory(parent or Path(tempfile.gettempdir()), SPILL_PREFIX)
        self._parts: list[Path] = []
        self.schema = pa.schema([])

    def __enter__(self) -> Spill:
        self._directory.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._directory.__exit__(exc_type, exc, tb)

    def add(self, batch: pa.RecordBatch) -> None:
        """Write a batch to disk and unify its schema into :attr:`schema`.

        Raises:
            OSError: If the batch cannot be written (disk full).
        """
        part = self._directory.path / f"part-{len(self._parts):06d}.arrow"
        with pa.OSFile(str(part), "wb") as sink, pa.ipc.new_file(sink, batch.schema) as writer:
            writer.write_batch(batch)
        self._parts.append(part)
        self.schema = unify_schemas(self.schema, batch.schema)

    def replay(self) -> Iterator[pa.RecordBatch]:
        """The batches added, in order, each conformed to the unified schema.

        Fields null in every batch become string columns. Each file is deleted once read.
        """
        final = pa.schema([pa.field(f.name, pa.string() if pa.types.is_null(f.type) else f.type) for f in self.schema])
        for part in self._parts:
            with pa.OSFile(str(part), "rb") as source:  # read into memory, not mapped
                conformed = conform(pa.ipc.open_file(source).get_batch(0), final)
            part.unlink()
            yield conformed
