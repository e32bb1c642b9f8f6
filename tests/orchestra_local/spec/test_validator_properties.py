"""Property test: random mutations of valid pipelines never crash the validator.

Whatever the mutation (a key removed, renamed or added, a value of another type, text with
expression syntax spliced in), loading either succeeds or raises ``PipelineValidationError`` with
located problems, and the API's validation returns problems; nothing else escapes.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestra_local.api.routers.schema import validate_api_document
from orchestra_local.errors import PipelineValidationError
from orchestra_local.spec.loader import load_text
from orchestra_local.spec.yaml_source import parse_text

VALID = sorted((Path(__file__).with_name("corpus") / "valid").glob("*.yml"))
DOCUMENTS = [parse_text(path.read_text(), path.name)[1] for path in VALID]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10**6, max_value=10**6),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30),
    st.sampled_from(["${{", "}}", "${{ tasks['x'].status }}", "${{ inputs.nope }}", "${{ (", "0 8 ? * * *",
                     "PYTHON", "DBT_CORE_EXECUTE", "v1", "", "'", '"', "\n", "*"]),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                      max_leaves=8)


def paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += paths(value, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    document = copy.deepcopy(draw(st.sampled_from(DOCUMENTS)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        path = draw(st.sampled_from(paths(document)))
        if not path:
            continue
        parent = document
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        action = draw(st.sampled_from(["replace", "delete", "rename", "add", "splice"]))
        if action == "replace":
            parent[last] = draw(values)
        elif action == "delete" and isinstance(parent, dict):
            del parent[last]
        elif action == "rename" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=12))] = parent.pop(last)
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=12))] = draw(values)
        elif action == "splice" and isinstance(parent[last], str):
            parent[last] = parent[last] + draw(st.sampled_from(["${{ ", " }}", "${{ foo.bar }}", "'", "\\"]))
    return document


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])  # test_fuzz.py runs 1,000 more
@given(mutated())
def test_mutated_pipelines_get_a_structured_answer(document: dict[str, Any]) -> None:
    text = json.dumps(document)  # JSON is YAML
    try:
        loaded = load_text(text, "mutated.yml")
    except PipelineValidationError as exc:
        assert exc.problems
        assert all(p.file == "mutated.yml" and p.msg for p in exc.problems)
    else:
        assert loaded.model.version == "v1"
    problems = validate_api_document(document)
    assert all(p.msg and isinstance(p.loc, tuple) for p in problems)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes_the_loader(text: str) -> None:
    try:
        load_text(text, "random.yml")
    except PipelineValidationError as exc:
        assert exc.problems and all(p.msg for p in exc.problems)
