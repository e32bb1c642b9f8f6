"""Load a REST source file: YAML without duplicate keys, validated, errors located by line and key.

A problem is reported as ``<file>:<line>: <key.path>: <message>``, all problems of the file in
one line (the worker prints one ``Error:`` line), so the whole file can be fixed at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pydantic
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from ingest.errors import ConfigError
from ingest.sources.rest.config import RestApiConfig

# The ``type`` values of the discriminated unions; pydantic puts them into error locations.
_UNION_TAGS = frozenset(
    {"bearer", "basic", "api_key", "none", "page_number", "offset", "cursor", "link_header", "next_url"}
)


def _plain(node: Any) -> Any:
    """Turn ruamel's round-trip tree into dicts, lists and plain scalars."""
    if isinstance(node, CommentedMap):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, CommentedSeq):
        return [_plain(value) for value in node]
    if node is None or isinstance(node, bool):
        return node
    for plain in (str, int, float):
        if isinstance(node, plain):
            return plain(node)
    return node


def _locate(tree: Any, loc: Sequence[str | int]) -> tuple[str, int | None]:
    """The dotted key path and 1-based line of an error location, skipping union tags.

    When a key is missing (a required field), the line is that of its parent, where it belongs.
    """
    node, line, keys = tree, None, []
    for part in loc:
        if isinstance(node, CommentedMap) and str(part) in node:
            line = node.lc.key(str(part))[0] + 1
            node = node[str(part)]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            line = node.lc.item(part)[0] + 1
            node = node[part]
        elif part in _UNION_TAGS:
            continue
        else:
            node = None
        keys.append(str(part))
    return ".".join(keys) or "(top level)", line


def _message(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key (check the spelling; see python/README.md)"
    if error["type"] == "missing":
        return "required key is missing"
    return str(error["msg"]).removeprefix("Value error, ")


def load_config(path: Path) -> RestApiConfig:
    """Read and validate a REST source file.

    Args:
        path: The YAML file (relative paths are relative to the working directory, which is
            ``python/`` when Orchestra runs the worker).

    Returns:
        The validated configuration.

    Raises:
        ConfigError: If the file is missing or unreadable, is not YAML, repeats a key, or does
            not match :class:`~ingest.sources.rest.config.RestApiConfig`; the message locates
            every problem by line and key.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"rest config {path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"rest config {path}: cannot read it: {exc}") from None
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        tree = yaml.load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = (getattr(exc, "problem", None) or str(exc).splitlines()[0]).split(" with value")[0]
        raise ConfigError(f"rest config {path}{where}: invalid YAML: {problem}") from None
    if not isinstance(tree, CommentedMap):
        raise ConfigError(f"rest config {path}: expected a mapping of keys at the top level")
    try:
        return RestApiConfig.model_validate(_plain(tree))
    except pydantic.ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            keys, line = _locate(tree, error["loc"])
            where = f"{path}:{line}" if line is not None else str(path)
            problems.append(f"{where}: {keys}: {_message(error)}")
        prefix = f"rest config ({len(problems)} problems): " if len(problems) > 1 else "rest config "
        raise ConfigError(prefix + "; ".join(problems)) from None
