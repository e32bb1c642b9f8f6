"""Documented bounds on pipeline input, checked before any parser builds the document.

A pipeline file is read by ruamel, pydantic and Orchestra's validator (``oml_lang``), none of
which bounds its input: a 540-byte YAML alias bomb takes ruamel 31 s and 4.4 GB once expanded, a
596-byte one makes oml_lang abort with OutOfMemoryError, and nesting of 300 levels overflows
Python's recursion limit. So every document is measured here first, on the YAML event stream
(which never expands aliases), and refused with a located error when it exceeds a limit:

========================  ============  =====================================================
limit                     value         what is counted
========================  ============  =====================================================
MAX_FILE_BYTES            1 MiB         bytes of the file (UTF-8)
MAX_ALIASES               100           ``*alias`` references in the document
MAX_NODES                 20,000        scalars, mappings and sequences, each alias counted as
                                        the size of what it expands to
MAX_DEPTH                 64            nesting of mappings/sequences (aliases expanded)
MAX_MATRIX_VALUES         1,000         values of one task group's matrix (``engine/plan.py``)
MAX_RUN_INPUT_BYTES       64 KiB        all run inputs of one start, serialised as JSON
                                        (``engine/inputs.py``)
========================  ============  =====================================================

The same numbers are listed in ``orchestra_local/README.md``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent, MappingStartEvent, NodeEvent

from orchestra_local.errors import PipelineValidationError, Problem

MAX_FILE_BYTES = 1024 * 1024
"""Largest pipeline file, in bytes (1 MiB); real files are a few KiB."""

MAX_ALIASES = 100
"""Most ``*alias`` references in one YAML document."""

MAX_NODES = 20_000
"""Most YAML nodes of one document, aliases counted at their expanded size."""

MAX_DEPTH = 64
"""Deepest nesting of mappings and sequences in one document (aliases expanded)."""

MAX_MATRIX_VALUES = 1_000
"""Most iterations of one task group's matrix (a literal list or an expression's result)."""

MAX_RUN_INPUT_BYTES = 64 * 1024
"""Largest total size of one start's run inputs, serialised as JSON, in bytes (64 KiB)."""


@dataclass
class _Frame:
    """An open collection: its expanded size and height so far, and how many children it has."""

    anchor: str | None
    mapping: bool = False
    children: int = 0
    nodes: int = 1
    height: int = 1


def _refuse(msg: str, kind: str, file: str | None, line: int | None, column: int | None = None) -> PipelineValidationError:
    return PipelineValidationError([Problem(loc=(), msg=msg, type=kind, file=file, line=line, column=column)])


def _position(event: Any) -> tuple[int | None, int | None]:
    mark = getattr(event, "start_mark", None)
    return (mark.line + 1, mark.column + 1) if mark is not None else (None, None)


def check_text_size(text: str | bytes, file: str | None) -> None:
    """Refuse a document over :data:`MAX_FILE_BYTES`.

    Raises:
        PipelineValidationError: ``file_too_large``, located at line 1.
    """
    size = len(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    if size > MAX_FILE_BYTES:
        raise _refuse(f"the file is {size:,} bytes; pipeline files are limited to {MAX_FILE_BYTES:,} bytes "
                      "(MAX_FILE_BYTES)", "file_too_large", file, 1)


def _ruamel_events(text: str) -> Iterator[Any]:
    try:
        yield from YAML(typ="rt").parse(text)
    except YAMLError:
        return  # a syntax error: the real parse that follows reports it with its position


def _libyaml_events(text: str) -> Iterator[Any]:
    """Events from libyaml (C, through PyYAML): the scan then costs little next to the real parse."""
    loader = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
    return iter(yaml.parse(text, Loader=loader))


def check_yaml_bounds(text: str, file: str | None) -> None:
    """Measure a YAML document on its event stream (aliases are never expanded) and refuse it early.

    Checks, in order of appearance: :data:`MAX_ALIASES`, :data:`MAX_NODES` and :data:`MAX_DEPTH`;
    the first limit crossed stops the scan, so the cost is bounded by the limits, not the input.
    The events come from libyaml (C) when it can read the document, else from ruamel. Syntax
    errors are left to the parser that runs next.

    Args:
        text: The YAML text (already within :data:`MAX_FILE_BYTES`).
        file: The file name for the problem.

    Raises:
        PipelineValidationError: ``too_many_aliases``, ``too_many_nodes``, ``too_deep`` or
            ``complex_key`` (a mapping or list as a key, which ruamel cannot even build), with the
            line where the limit was crossed.
    """
    check_text_size(text, file)
    try:
        _check_events(_libyaml_events(text), file)
    except yaml.YAMLError:
        # libyaml reads YAML 1.1 and refuses a few documents ruamel (YAML 1.2) accepts: measure
        # those on ruamel's own event stream, in pure Python but still without expanding aliases.
        _check_events(_ruamel_events(text), file)


def _check_events(events: Iterator[Any], file: str | None) -> None:
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (expanded nodes, height)
    stack: list[_Frame] = [_Frame(anchor=None, nodes=0, height=0)]
    aliases = 0
    for event in events:
        if not isinstance(event, (NodeEvent, CollectionEndEvent, yaml.NodeEvent, yaml.CollectionEndEvent)):
            continue
        ending = isinstance(event, (CollectionEndEvent, yaml.CollectionEndEvent))
        starting = isinstance(event, (CollectionStartEvent, yaml.CollectionStartEvent))
        alias = isinstance(event, (AliasEvent, yaml.AliasEvent))
        if not ending:
            _check_key(stack[-1], starting or (alias and anchors.get(str(event.anchor), (1, 0))[1] > 0), event, file)
        if alias:
            aliases += 1
            if aliases > MAX_ALIASES:
                raise _refuse(f"more than {MAX_ALIASES} YAML aliases (MAX_ALIASES); write the values out or "
                              "use fewer '*' references", "too_many_aliases", file, *_position(event))
            nodes, height = anchors.get(str(event.anchor), (1, 0))
        elif starting:
            stack.append(_Frame(anchor=event.anchor, mapping=isinstance(event, (MappingStartEvent,
                                                                                  yaml.MappingStartEvent))))
            if len(stack) - 1 > MAX_DEPTH:
                raise _refuse(f"nested deeper than {MAX_DEPTH} levels (MAX_DEPTH)", "too_deep", file, *_position(event))
            continue
        elif ending:
            frame = stack.pop()
            nodes, height = frame.nodes, frame.height
            if frame.anchor is not None:
                anchors[str(frame.anchor)] = (nodes, height)
        else:  # a scalar
            nodes, height = 1, 0
            if event.anchor is not None:
                anchors[str(event.anchor)] = (1, 0)
        parent = stack[-1]
        parent.nodes += nodes
        parent.height = max(parent.height, height + 1)
        if sum(frame.nodes for frame in stack) > MAX_NODES:
            raise _refuse(f"more than {MAX_NODES:,} YAML values once aliases are expanded (MAX_NODES)",
                          "too_many_nodes", file, *_position(event))
        if len(stack) - 1 + height > MAX_DEPTH:
            raise _refuse(f"nested deeper than {MAX_DEPTH} levels once aliases are expanded (MAX_DEPTH)",
                          "too_deep", file, *_position(event))


def _check_key(parent: _Frame, collection: bool, event: Any, file: str | None) -> None:
    """Refuse a mapping or list used as a mapping key (``? [a, b]: x``), which no pipeline key is."""
    if parent.mapping and parent.children % 2 == 0 and collection:
        raise _refuse("a mapping or list is used as a key ('? ...' complex key); pipeline keys are text",
                      "complex_key", file, *_position(event))
    parent.children += 1


def check_document_bounds(document: Any) -> None:
    """Apply :data:`MAX_NODES` and :data:`MAX_DEPTH` to already-parsed data (an API body).

    Walks iteratively, so a deeply nested body cannot overflow the stack here.

    Raises:
        PipelineValidationError: ``too_many_nodes`` or ``too_deep``, located by YAML path.
    """
    pending: list[tuple[Any, tuple[str | int, ...]]] = [(document, ())]
    count = 0
    while pending:
        value, loc = pending.pop()
        count += 1
        if count > MAX_NODES:
            raise PipelineValidationError([Problem(loc=loc, msg=f"more than {MAX_NODES:,} values (MAX_NODES)",
                                                   type="too_many_nodes")])
        if len(loc) > MAX_DEPTH:
            raise PipelineValidationError([Problem(loc=loc[:MAX_DEPTH], msg=f"nested deeper than {MAX_DEPTH} levels "
                                                   "(MAX_DEPTH)", type="too_deep")])
        if isinstance(value, dict):
            pending.extend((item, (*loc, str(key))) for key, item in value.items())
        elif isinstance(value, list):
            pending.extend((item, (*loc, index)) for index, item in enumerate(value))
