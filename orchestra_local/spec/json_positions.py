"""JSON text with a map from positions back to paths.

``oml_lang`` (Orchestra's own validator) reads JSON and reports line/column positions. We feed it
the parsed YAML serialised here, and use the map to turn each of its positions into a YAML path
(and from there, through the loader, into a line of the user's file).
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass, field
from typing import Any

Path = tuple[str | int, ...]


@dataclass
class PositionedJson:
    """JSON text and the path of the token starting at each position.

    Attributes:
        text: The document as indented JSON.
        tokens: Sorted ``((line, column), path)`` pairs, 0-based, for every key and value start.
    """

    text: str
    tokens: list[tuple[tuple[int, int], Path]] = field(default_factory=list)

    def path_at(self, line: int, column: int) -> Path:
        """The path of the last token starting at or before ``(line, column)`` (0-based)."""
        index = bisect.bisect_right(self.tokens, ((line, column), (chr(0x10FFFF),))) - 1
        return self.tokens[index][1] if index >= 0 else ()


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = [""]
        self.tokens: list[tuple[tuple[int, int], Path]] = []

    def _mark(self, path: Path) -> None:
        self.tokens.append(((len(self.lines) - 1, len(self.lines[-1])), path))

    def _put(self, text: str) -> None:
        self.lines[-1] += text

    def _newline(self, depth: int) -> None:
        self.lines.append("  " * depth)

    def value(self, value: Any, path: Path, depth: int) -> None:
        self._mark(path)
        if isinstance(value, dict) and value:
            self._put("{")
            for index, (key, item) in enumerate(value.items()):
                self._newline(depth + 1)
                self._mark((*path, key))
                self._put(json.dumps(str(key)) + ": ")
                self.value(item, (*path, key), depth + 1)
                if index < len(value) - 1:
                    self._put(",")
            self._newline(depth)
            self._put("}")
        elif isinstance(value, list) and value:
            self._put("[")
            for index, item in enumerate(value):
                self._newline(depth + 1)
                self.value(item, (*path, index), depth + 1)
                if index < len(value) - 1:
                    self._put(",")
            self._newline(depth)
            self._put("]")
        else:
            self._put(json.dumps(value, default=str))


def to_positioned_json(document: Any) -> PositionedJson:
    """Serialise plain data (dicts, lists, scalars) as indented JSON, remembering token positions.

    Non-JSON scalars (dates from YAML) are written as strings.
    """
    writer = _Writer()
    writer.value(document, (), 0)
    return PositionedJson(text="\n".join(writer.lines), tokens=sorted(writer.tokens))
