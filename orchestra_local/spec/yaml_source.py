"""YAML text with positions: parsing with duplicate-key rejection, and locating YAML paths.

Every pipeline-shaped file the runner reads (pipelines, connections, environments) goes through
:func:`parse_text`, so syntax errors, duplicate keys and schema errors are all reported with the
file, the YAML path and the line.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pydantic
from pydantic.alias_generators import to_camel, to_snake
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from orchestra_local.errors import InvalidInputError, PipelineValidationError, Problem
from orchestra_local.spec.limits import check_yaml_bounds
from orchestra_local.spec.models import ENTRY_TAGS


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    return yaml


def to_plain(node: Any) -> Any:
    """Convert a ruamel round-trip tree into plain dicts, lists and Python scalars."""
    if isinstance(node, CommentedMap):
        return {str(k) if not isinstance(k, (str, int, float, bool)) else k: to_plain(v) for k, v in node.items()}
    if isinstance(node, CommentedSeq):
        return [to_plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    for plain in (str, int, float):
        if isinstance(node, plain):
            return plain(node)
    return node


def _key_candidates(part: str) -> Iterator[str]:
    yield part
    yield to_camel(part)
    yield to_snake(part)


def locate(source: Any, loc: Sequence[str | int]) -> tuple[int | None, int | None]:
    """Find the 1-based (line, column) of ``loc`` in a ruamel tree.

    Walks the path key by key (accepting snake_case or camelCase spellings and skipping the
    model tags pydantic inserts). When a key is missing (e.g. a required field), answers the
    position of the deepest node that exists, which is where the user has to add it.
    """
    node = source
    line: int | None = None
    column: int | None = None
    for part in loc:
        if isinstance(node, CommentedMap):
            key = next((k for k in _key_candidates(str(part)) if k in node), None)
            if key is None:
                if part in ENTRY_TAGS:
                    continue
                break
            key_line, key_col = node.lc.key(key)
            line, column = key_line + 1, key_col + 1
            node = node[key]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            item_line, item_col = node.lc.item(part)
            line, column = item_line + 1, item_col + 1
            node = node[part]
        else:
            break
    if line is None and isinstance(source, (CommentedMap, CommentedSeq)):
        line, column = source.lc.line + 1, source.lc.col + 1
    return line, column


def _strip_tags(loc: Sequence[str | int], source: Any) -> tuple[str | int, ...]:
    """Remove pydantic's union tags from an error location, keeping real YAML keys of that name."""
    out: list[str | int] = []
    node = source
    for part in loc:
        if isinstance(node, CommentedMap):
            key = next((k for k in _key_candidates(str(part)) if k in node), None)
            if key is None and part in ENTRY_TAGS:
                continue
            node = node.get(key) if key is not None else None
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
        out.append(part)
    return tuple(out)


def _hint(error: dict[str, Any]) -> str:
    kind = error["type"]
    msg = str(error["msg"])
    if kind == "extra_forbidden":
        key = str(error["loc"][-1]) if error["loc"] else ""
        if to_snake(key) != key:
            return f"unknown key; YAML keys are snake_case: write '{to_snake(key)}'"
        return "unknown key (not part of Orchestra pipeline v1; check the spelling)"
    if kind == "missing":
        return "required key is missing"
    if kind == "literal_error":
        return msg[0].lower() + msg[1:]
    return msg.removeprefix("Value error, ")


def problems_from_validation(
    exc: pydantic.ValidationError, source: Any, file: str | None
) -> list[Problem]:
    """Turn a pydantic ``ValidationError`` into located problems, one per error."""
    problems = []
    for error in exc.errors(include_url=False):
        loc = _strip_tags(error["loc"], source)
        line, column = locate(source, loc)
        value = error.get("input")
        shown = value if isinstance(value, (str, int, float, bool)) and len(str(value)) <= 80 else None
        problems.append(
            Problem(loc=loc, msg=_hint(error), type=error["type"], file=file, line=line, column=column, input=shown)
        )
    return problems


def parse_text(text: str, file: str | None = None) -> tuple[Any, dict[str, Any]]:
    """Parse YAML text (JSON is YAML) into (ruamel tree, plain data).

    The document is measured first (``limits.check_yaml_bounds``: file size, aliases, nodes,
    depth), so no parser ever expands an alias bomb or recurses into a too-deep document.

    Raises:
        PipelineValidationError: On a syntax error, a duplicate key, a document over a limit of
            ``limits.py``, or a document that is not a mapping; the problem carries the line the
            parser stopped at.
    """
    check_yaml_bounds(text, file)
    try:
        source = _yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        what = " ".join(filter(None, [exc.context, exc.problem])).strip()
        kind = "duplicate_key" if type(exc).__name__ == "DuplicateKeyError" else "yaml_syntax"
        if kind == "duplicate_key":
            what = (exc.problem or "found a duplicate key").split(" with value")[0]
        raise PipelineValidationError(
            [Problem(loc=(), msg=f"invalid YAML: {what} (check indentation and quoting)", type=kind,
                     file=file, line=line, column=column)]
        ) from None
    except (TypeError, ValueError, RecursionError) as exc:  # a document ruamel can scan but not build
        raise PipelineValidationError(
            [Problem(loc=(), msg=f"invalid YAML: the document cannot be built ({type(exc).__name__}: {exc})"[:300],
                     type="yaml_syntax", file=file, line=1)]
        ) from None
    except YAMLError as exc:  # e.g. ReaderError: a character YAML does not allow
        position = getattr(exc, "position", 0) or 0
        line = text.count("\n", 0, position) + 1
        raise PipelineValidationError(
            [Problem(loc=(), msg=f"invalid YAML: {exc}".splitlines()[0], type="yaml_syntax", file=file, line=line)]
        ) from None
    if not isinstance(source, CommentedMap):
        raise PipelineValidationError(
            [Problem(loc=(), msg="a pipeline file must be a YAML mapping with version, name and pipeline",
                     type="dict_type", file=file, line=1)]
        )
    return source, to_plain(source)


ModelT = TypeVar("ModelT", bound=pydantic.BaseModel)


def load_yaml_model(path: Path, model: type[ModelT], what: str) -> ModelT:
    """Read a YAML configuration file into a pydantic model, with located problems.

    Args:
        path: The file.
        model: Its model.
        what: What the file is, for messages (e.g. "connections").

    Raises:
        InvalidInputError: The file cannot be read.
        PipelineValidationError: It is not valid YAML or not valid for ``model``; problems carry
            file, YAML path and line, never the offending values (config files hold secrets).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot read the {what} file ({exc.strerror})") from None
    source, document = parse_text(text, str(path))
    try:
        return model.model_validate(document)
    except pydantic.ValidationError as exc:
        problems = problems_from_validation(exc, source, str(path))
        raise PipelineValidationError([replace(p, input=None) for p in problems]) from None
