"""YAML text with positions: parsing with duplicate-key rejection, and locating YAML paths.

Every pipeline-shaped file the runner reads (pipelines, connections, environments) goes through
:func:`parse_text`, so syntax errors, duplicate keys and schema errors are all reported with the
file, the YAML path and the line.

Two readers, one result. ruamel's round-trip reader keeps every node's line, but is pure Python
(about 1 ms per line of a pipeline file on this project's CI machine). So the plain data come from
ruamel's safe reader on libyaml (``ruamel.yaml.clib``: the same YAML 1.2 resolver and duplicate-key
check, about 10x faster), and positions are worked out only when a problem must be located
(:class:`Source`: libyaml's node graph of the same text). Whatever the fast reader refuses, or reads into anything but mappings,
sequences, strings, numbers, booleans and nulls, and any document with a merge key (``<<``), is
read again by the round-trip reader, whose
result and errors are then the ones used; a test holds the two readers' data equal on every YAML
file of the repository. (libyaml parses YAML 1.1 syntax: the rare document whose syntax only one
of the two parsers accepts is read by libyaml's rule.)
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
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from orchestra_local.errors import InvalidInputError, PipelineValidationError, Problem
from orchestra_local.spec.limits import check_yaml_bounds
from orchestra_local.spec.models import ENTRY_TAGS


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    return yaml


def _fast_yaml() -> YAML | None:
    """ruamel's safe reader on libyaml, or None when ``ruamel.yaml.clib`` is not installed."""
    yaml = YAML(typ="safe", pure=False)
    if yaml.Parser.__module__.startswith("ruamel.yaml.parser"):  # no C parser: nothing to gain
        return None
    yaml.allow_duplicate_keys = False
    return yaml


PLAIN_SCALARS = (str, int, float, bool, type(None))
"""What the fast reader's result may hold. Anything else (a timestamp, a set, a tagged value) is
read by the round-trip reader, whose types (ruamel's ``TimeStamp`` keeps the written offset) are
the ones the rest of the runner has always seen."""


class Source:
    """Where a document's nodes are (lines and columns), worked out on first use.

    For text the fast reader read, the positions come from libyaml's node graph of the same text
    (``compose``), so they describe exactly the document whose data were used; for text only the
    round-trip reader could read, from its tree.

    Args:
        text: The YAML text (already measured against ``limits.py``).
        tree: The round-trip tree, when the round-trip reader read the text.
    """

    def __init__(self, text: str, tree: Any = None):
        self._text = text
        self._tree = tree

    @property
    def tree(self) -> Any:
        """A ruamel round-trip tree (``CommentedMap`` at the top) or node graph (``MappingNode``)."""
        if self._tree is None:
            fast = _fast_yaml()
            self._tree = fast.compose(self._text) if fast is not None else _yaml().load(self._text)
        return self._tree


def _tree(source: Any) -> Any:
    return source.tree if isinstance(source, Source) else source


def _is_mapping(node: Any) -> bool:
    return isinstance(node, (CommentedMap, MappingNode))


def _child(node: Any, part: str | int) -> tuple[Any, int, int] | None:
    """The child of a tree node at one YAML path part, with its 0-based line and column, or None.

    A mapping's key may be written in the part's snake_case or camelCase spelling.
    """
    if isinstance(node, CommentedMap):
        key = next((k for k in _key_candidates(str(part)) if k in node), None)
        if key is None:
            return None
        line, column = node.lc.key(key)
        return node[key], line, column
    if isinstance(node, MappingNode):
        for candidate in _key_candidates(str(part)):
            for key_node, value_node in node.value:
                if isinstance(key_node, ScalarNode) and key_node.value == candidate:
                    return value_node, key_node.start_mark.line, key_node.start_mark.column
        return None
    if not isinstance(part, int) or part < 0:
        return None
    if isinstance(node, CommentedSeq) and part < len(node):
        line, column = node.lc.item(part)
        return node[part], line, column
    if isinstance(node, SequenceNode) and part < len(node.value):
        item = node.value[part]
        return item, item.start_mark.line, item.start_mark.column
    return None


def to_plain(node: Any) -> Any:
    """Convert a ruamel tree (round-trip or safe) into plain dicts, lists and Python scalars."""
    if isinstance(node, dict):  # CommentedMap is a dict
        return {str(k) if not isinstance(k, (str, int, float, bool)) else k: to_plain(v) for k, v in node.items()}
    if isinstance(node, list):  # CommentedSeq is a list
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
    """Find the 1-based (line, column) of ``loc`` in a document.

    Walks the path key by key (accepting snake_case or camelCase spellings and skipping the
    model tags pydantic inserts). When a key is missing (e.g. a required field), answers the
    position of the deepest node that exists, which is where the user has to add it.

    Args:
        source: A :class:`Source` (its positions are worked out now if they were not) or a ruamel
            round-trip tree.
        loc: The YAML path, e.g. ``("pipeline", "g", "tasks", "t1", "parameters")``.
    """
    source = _tree(source)
    node = source
    line: int | None = None
    column: int | None = None
    for part in loc:
        found = _child(node, part)
        if found is None:
            if _is_mapping(node) and part in ENTRY_TAGS:
                continue
            break
        node, found_line, found_column = found
        line, column = found_line + 1, found_column + 1
    if line is None and isinstance(source, (CommentedMap, CommentedSeq)):
        line, column = source.lc.line + 1, source.lc.col + 1
    elif line is None and isinstance(source, Node):
        line, column = source.start_mark.line + 1, source.start_mark.column + 1
    return line, column


def _strip_tags(loc: Sequence[str | int], source: Any) -> tuple[str | int, ...]:
    """Remove pydantic's union tags from an error location, keeping real YAML keys of that name."""
    out: list[str | int] = []
    node = _tree(source)
    for part in loc:
        found = _child(node, part) if node is not None else None
        if found is None and _is_mapping(node) and part in ENTRY_TAGS:
            continue
        node = found[0] if found is not None else None
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


def _plain_only(node: Any) -> bool:
    if isinstance(node, dict):
        return all(_plain_only(k) and _plain_only(v) for k, v in node.items())
    if isinstance(node, list):
        return all(_plain_only(v) for v in node)
    return isinstance(node, PLAIN_SCALARS)


def _read_fast(text: str) -> dict[str, Any] | None:
    """The plain data by the fast reader, or None where the round-trip reader must decide."""
    yaml = _fast_yaml()
    if yaml is None or "<<" in text:  # merge keys: the safe reader orders the merged keys differently
        return None
    try:
        data = yaml.load(text)
    except Exception:  # noqa: BLE001 - whatever it refuses, the round-trip reader reports precisely
        return None
    return to_plain(data) if isinstance(data, dict) and _plain_only(data) else None


def parse_text(text: str, file: str | None = None) -> tuple[Source, dict[str, Any]]:
    """Parse YAML text (JSON is YAML) into (its :class:`Source`, plain data).

    The document is measured first (``limits.check_yaml_bounds``: file size, aliases, nodes,
    depth), so no parser ever expands an alias bomb or recurses into a too-deep document. The
    module docstring says which reader reads what.

    Raises:
        PipelineValidationError: On a syntax error, a duplicate key, a document over a limit of
            ``limits.py``, or a document that is not a mapping; the problem carries the line the
            parser stopped at.
    """
    check_yaml_bounds(text, file)
    document = _read_fast(text)
    if document is not None:
        return Source(text), document
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
    return Source(text, source), to_plain(source)


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
