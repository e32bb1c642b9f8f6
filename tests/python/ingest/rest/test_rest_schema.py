"""Columns of REST records: flattening, declared types, per-batch inference and its unification
(type drift), in process; then drift across pages end to end into DuckDB."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pytest
from ingest.errors import ConversionError, SchemaConflictError, SourceError
from ingest.sources.rest.columns import RecordConverter, wire_array
from ingest.sources.rest.config import ColumnSpec
from ingest.sources.rest.records import flatten, records_of
from ingest.sources.rest.spill import Spill, unify_types

if TYPE_CHECKING:
    from conftest import Rest

UTC = dt.UTC


def test_nested_objects_flatten_unless_declared() -> None:
    record = {"id": 1, "user": {"login": "ada", "site": {"url": "u"}}, "meta": {"a": 1}, "tags": ["x"], "empty": {}}

    assert flatten(record, keep={"meta"}) == {
        "id": 1,
        "user__login": "ada",
        "user__site__url": "u",
        "meta": {"a": 1},
        "tags": ["x"],
        "empty": {},
    }
    assert flatten("plain", keep=()) == {"value": "plain"}
    with pytest.raises(SourceError, match="field 'a__b' appears twice"):
        flatten({"a": {"b": 1}, "a__b": 2}, keep=())


@pytest.mark.parametrize(
    ("body", "path", "expected"),
    [
        ([{"id": 1}], "", [{"id": 1}]),
        ({"data": {"items": [1, 2]}}, "data.items", [1, 2]),
        ({"data": None}, "data", []),
        ({"item": {"id": 1}}, "item", [{"id": 1}]),
    ],
)
def test_records_are_found_by_path(body: Any, path: str, expected: list[Any]) -> None:
    assert records_of(body, path, "GET x") == expected


def test_a_records_path_that_leads_nowhere_names_the_keys() -> None:
    with pytest.raises(
        SourceError,
        match=r"GET x: records_path 'data.items' does not lead to a list; the body has: "
        r"data, meta",
    ):
        records_of({"data": {"rows": []}, "meta": {}}, "data.items", "GET x")


@pytest.mark.parametrize(
    ("values", "arrow_type", "as_python"),
    [
        ([None, None], pa.null(), [None, None]),
        ([True, None], pa.bool_(), [True, None]),
        ([1, 2], pa.int64(), [1, 2]),
        ([1, 2.5], pa.float64(), [1.0, 2.5]),
        (["a", None], pa.string(), ["a", None]),
        ([1, "a", True], pa.string(), ["1", "a", "true"]),
        ([[1, 2], {"k": "é"}], pa.string(), ["[1,2]", '{"k":"é"}']),
        ([2**70, 1], pa.string(), [str(2**70), "1"]),
    ],
    ids=["null", "bool", "int", "int-float", "text", "mixed", "nested", "beyond-int64"],
)
def test_values_are_typed_by_their_json_kind(values: list[Any], arrow_type: pa.DataType, as_python: list[Any]) -> None:
    array = wire_array(values)

    assert (array.type, array.to_pylist()) == (arrow_type, as_python)


@pytest.mark.parametrize(
    ("first", "second", "unified"),
    [
        (pa.int64(), pa.int64(), pa.int64()),
        (pa.null(), pa.bool_(), pa.bool_()),
        (pa.float64(), pa.null(), pa.float64()),
        (pa.int64(), pa.float64(), pa.float64()),
        (pa.int64(), pa.string(), pa.string()),
        (pa.bool_(), pa.int64(), pa.string()),
    ],
)
def test_type_drift_unifies(first: pa.DataType, second: pa.DataType, unified: pa.DataType) -> None:
    assert unify_types(first, second) == unified


def test_spilled_batches_replay_in_the_unified_schema(tmp_path: Any) -> None:
    converter = RecordConverter("things", {"id": ColumnSpec(type="integer")}, infer=True)
    pages = [
        [{"id": 1, "score": 1, "flag": True, "gone": None}],
        [{"id": 2, "score": 2.5, "flag": 3, "late": "x", "gone": None}],
    ]

    with Spill(tmp_path) as spill:
        for page in pages:
            spill.add(converter.convert(page))
        replayed = list(spill.replay())

    schema = pa.schema(
        [
            ("id", pa.int64()),
            ("score", pa.float64()),
            ("flag", pa.string()),
            ("gone", pa.string()),
            ("late", pa.string()),
        ]
    )
    assert [batch.schema for batch in replayed] == [schema, schema]
    assert pa.Table.from_batches(replayed).to_pylist() == [
        {"id": 1, "score": 1.0, "flag": "true", "gone": None, "late": None},
        {"id": 2, "score": 2.5, "flag": "3", "gone": None, "late": "x"},
    ]
    assert list(tmp_path.iterdir()) == []  # the spill directory is removed


DECLARED = [
    (
        "timestamp",
        None,
        ["2024-01-02T03:04:05Z", "2024-01-02T05:04:05+02:00", "2024-01-02 03:04:05"],
        [dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)] * 3,
    ),
    (
        "timestamp",
        "unix_seconds",
        [1704164645, 1704164645.5],
        [dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), dt.datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)],
    ),
    ("timestamp", "unix_milliseconds", [1704164645123], [dt.datetime(2024, 1, 2, 3, 4, 5, 123000, tzinfo=UTC)]),
    ("timestamp", "%d/%m/%Y %H:%M", ["02/01/2024 03:04"], [dt.datetime(2024, 1, 2, 3, 4, tzinfo=UTC)]),
    ("date", None, ["2024-01-02", None], [dt.date(2024, 1, 2), None]),
    ("date", "%d.%m.%Y", ["02.01.2024"], [dt.date(2024, 1, 2)]),
    ("decimal", None, ["12.50", 3], [Decimal("12.5"), Decimal(3)]),
    ("integer", None, ["12", None], [12, None]),
    ("integer", None, [13, 14.0], [13, 14]),
    ("number", None, [1, "2.5"], [1.0, 2.5]),
    ("boolean", None, ["true", False, "0"], [True, False, False]),
    ("string", None, [1, "a", [1]], ["1", "a", "[1]"]),
    ("json", None, [{"a": 1}, "text", None], ['{"a":1}', '"text"', None]),
]


@pytest.mark.parametrize(
    ("kind", "fmt", "values", "expected"),
    DECLARED,
    ids=[f"{kind}-{fmt or 'default'}-{i}" for i, (kind, fmt, _, _) in enumerate(DECLARED)],
)
def test_declared_columns_convert(kind: str, fmt: str | None, values: list[Any], expected: list[Any]) -> None:
    converter = RecordConverter("things", {"v": ColumnSpec(type=kind, format=fmt)}, infer=False)

    batch = converter.convert([{"v": value, "ignored": 1} for value in values])

    assert batch.schema.names == ["v"]
    assert batch.column(0).to_pylist() == expected


def test_a_value_that_does_not_convert_is_located() -> None:
    converter = RecordConverter("things", {"id": ColumnSpec(type="integer")}, infer=True)
    converter.convert([{"id": 1}, {"id": 2}])

    with pytest.raises(ConversionError, match=r"^endpoint 'things', column 'id' \(integer\), records 3-4: .*'x7'"):
        converter.convert([{"id": 3}, {"id": "x7"}])


def test_a_field_named_like_the_load_timestamp_is_refused() -> None:
    converter = RecordConverter("things", {}, infer=True)

    with pytest.raises(SchemaConflictError, match="field '_loaded_at', which the worker adds itself"):
        converter.convert([{"_loaded_at": "now"}])


def test_drift_across_pages_lands_as_the_unified_types(rest: Rest) -> None:
    for event in rest.api.records["events"]:
        page = (event["id"] - 1) // 3  # the server sends three events per page
        event.update(score=[1, 2.5, 4][page], code=[7, "x7", 9][page], nothing=None)
        if page == 2:
            event["late"] = True

    run = rest.ingest("events", "--batch-size", "3")

    assert run.returncode == 0, run.stderr
    types = rest.column_types("raw.events")
    assert {name: types[name] for name in ("id", "score", "code", "late", "nothing")} == {
        "id": "BIGINT",
        "score": "DOUBLE",
        "code": "VARCHAR",
        "late": "BOOLEAN",
        "nothing": "VARCHAR",
    }
    assert rest.rows("raw.events", "id, score, code, late") == [
        (1, 1.0, "7", None),
        (2, 1.0, "7", None),
        (3, 1.0, "7", None),
        (4, 2.5, "x7", None),
        (5, 2.5, "x7", None),
        (6, 2.5, "x7", None),
        (7, 4.0, "9", True),
    ]
