"""Bounded input: every documented limit of ``spec/limits.py`` is a located error, found before the
document is expanded, and cheap however hostile the file."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestra_local.api.routers.schema import validate_api_document
from orchestra_local.errors import PipelineValidationError
from orchestra_local.spec.limits import (
    MAX_ALIASES,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_NODES,
    check_document_bounds,
)
from orchestra_local.spec.loader import validate_file, validate_text

TASK = "{integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, parameters: {command: python x.py}}"
TAIL = f"pipeline:\n  g:\n    tasks:\n      t: {TASK}\n"


def bomb(levels: int = 9, width: int = 9) -> str:
    lines = ["version: v1", "name: bomb", "meta:", "  l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    lines += [f"  l{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * width) + "]" for n in range(1, levels)]
    return "\n".join(lines) + "\n" + TAIL


OVER_LIMIT = {
    "alias-bomb-9-levels-of-9": (bomb(), "too_many_nodes", 8, f"more than {MAX_NODES:,} YAML values"),
    "too-many-aliases": ("version: v1\nname: a\nmeta: {v: &v x, l: [" + ", ".join(["*v"] * (MAX_ALIASES + 1))
                         + "]}\n" + TAIL, "too_many_aliases", 3, f"more than {MAX_ALIASES} YAML aliases"),
    "deep-flow-300": ("version: v1\nname: d\nmeta:\n  x: " + "[" * 300 + "]" * 300 + "\n" + TAIL, "too_deep", 4,
                      f"nested deeper than {MAX_DEPTH} levels"),
    "deep-block-300": ("version: v1\nname: d\nmeta:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(300))
                       + TAIL, "too_deep", 67, f"nested deeper than {MAX_DEPTH} levels"),
    "deep-through-an-alias": ("version: v1\nname: d\nmeta:\n  a: &a " + "[" * 40 + "]" * 40 + "\n  b: "
                              + "[" * 30 + "*a" + "]" * 30 + "\n" + TAIL, "too_deep", 5, "once aliases are expanded"),
    "many-values": ("version: v1\nname: m\nmeta: [" + ", ".join(["1"] * (MAX_NODES + 1)) + "]\n" + TAIL,
                    "too_many_nodes", 3, f"more than {MAX_NODES:,} YAML values"),
    "file-size": ("version: v1\nname: " + "n" * MAX_FILE_BYTES + "\n" + TAIL, "file_too_large", 1,
                  f"limited to {MAX_FILE_BYTES:,} bytes"),
}


@pytest.mark.parametrize(("text", "kind", "line", "fragment"), OVER_LIMIT.values(), ids=OVER_LIMIT.keys())
def test_a_document_over_a_limit_is_a_located_error_found_at_once(text: str, kind: str, line: int,
                                                                    fragment: str) -> None:
    started = time.perf_counter()
    with pytest.raises(PipelineValidationError) as caught:
        validate_text(text, "p.yml")
    assert time.perf_counter() - started < 2
    [problem] = caught.value.problems
    assert (problem.type, problem.file, problem.line) == (kind, "p.yml", line), problem
    assert fragment in problem.msg


WITHIN_LIMITS = {
    "a-few-aliases": "version: v1\nname: a\nmeta: {v: &v [1, 2], l: [*v, *v, *v]}\n" + TAIL,
    "nested-to-the-limit": "version: v1\nname: d\nmeta:\n  x: " + "[" * (MAX_DEPTH - 2) + "]" * (MAX_DEPTH - 2)
                           + "\n" + TAIL,
}


@pytest.mark.parametrize("text", WITHIN_LIMITS.values(), ids=WITHIN_LIMITS.keys())
def test_documents_within_the_limits_are_valid(text: str) -> None:
    assert validate_text(text, "p.yml") == ()


def test_the_file_size_is_checked_before_the_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.yml"
    path.write_bytes(b"version: v1\nname: " + b"n" * (MAX_FILE_BYTES + 1) + b"\n")
    with pytest.raises(PipelineValidationError, match="MAX_FILE_BYTES") as caught:
        validate_file(path)
    assert caught.value.problems[0].line == 1


def test_a_file_that_is_not_utf8_is_a_located_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yml"
    path.write_bytes(b"version: v1\nname: caf\xe9\n")
    with pytest.raises(PipelineValidationError, match="not UTF-8") as caught:
        validate_file(path)
    assert (caught.value.problems[0].line, caught.value.problems[0].column) == (2, 10)


API_BODIES = {
    "deep": ({"version": "v1", "name": "d", "meta": json.loads("[" * 300 + "]" * 300)}, "too_deep"),
    "wide": ({"version": "v1", "name": "w", "meta": list(range(MAX_NODES + 1))}, "too_many_nodes"),
}


@pytest.mark.parametrize(("body", "kind"), API_BODIES.values(), ids=API_BODIES.keys())
def test_api_bodies_are_bounded_before_any_validator(body: dict, kind: str) -> None:
    problems = validate_api_document(body)
    assert [p.type for p in problems] == [kind]
    with pytest.raises(PipelineValidationError):
        check_document_bounds(body)


def test_a_too_deep_file_does_not_stop_validate_of_a_folder(tmp_path: Path) -> None:
    """Before the limits, nesting of 300 levels raised RecursionError and aborted the whole folder."""
    (tmp_path / "a_deep.yml").write_text(OVER_LIMIT["deep-flow-300"][0])
    (tmp_path / "b_good.yml").write_text("version: v1\nname: good\n" + TAIL)
    result = subprocess.run([sys.executable, "-m", "orchestra_local.cli", "validate", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert f"{tmp_path / 'a_deep.yml'}:4:" in result.stderr and "MAX_DEPTH" in result.stderr
    assert f"valid   {tmp_path / 'b_good.yml'}" in result.stdout
    assert "Traceback" not in result.stderr


def test_an_alias_bomb_costs_neither_time_nor_memory() -> None:
    """A 540-byte bomb took 31 s and 4.4 GB before; now it is refused on the event stream."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    for levels in range(4, 12):
        with pytest.raises(PipelineValidationError):
            validate_text(bomb(levels=levels, width=12), "bomb.yml")
    assert time.perf_counter() - started < 2
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # kilobytes


@pytest.mark.parametrize("source", ["libyaml", "ruamel"])
@pytest.mark.parametrize("case", ["alias-bomb-9-levels-of-9", "too-many-aliases", "deep-flow-300",
                                  "deep-through-an-alias"])
def test_both_event_sources_enforce_the_same_limits(source: str, case: str) -> None:
    """ruamel's events are the fallback for documents libyaml (YAML 1.1) cannot read."""
    from orchestra_local.spec import limits

    text, kind, line, _ = OVER_LIMIT[case]
    events = limits._libyaml_events(text) if source == "libyaml" else limits._ruamel_events(text)
    with pytest.raises(PipelineValidationError) as caught:
        limits._check_events(events, "p.yml")
    assert (caught.value.problems[0].type, caught.value.problems[0].line) == (kind, line)
