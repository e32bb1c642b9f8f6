"""Records out of a response body: find them by a dotted path, flatten nested objects.

A record's nested objects become columns named ``parent__child`` (dlt's convention), so
``{"user": {"login": "ada"}}`` gives a ``user__login`` column; flattening stops at a field
declared in ``columns`` (e.g. ``user: json`` keeps the object as JSON text). Arrays stay whole
and are stored as JSON text. A record that is not an object (a bare string or number) becomes
``{"value": ...}``.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from ingest.errors import SourceError

SEPARATOR = "__"
SCALAR_FIELD = "value"


class _Missing:
    """Marks a path that leads nowhere (distinct from a JSON null)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def value_at(body: Any, path: str) -> Any:
    """The value at a dotted path of a JSON document.

    Args:
        body: Decoded JSON.
        path: Keys separated by dots, e.g. ``meta.next_cursor``; empty for ``body`` itself.

    Returns:
        The value, or :data:`MISSING` when a key is absent or a step is not an object.
    """
    node = body
    for key in path.split(".") if path else ():
        if not isinstance(node, dict) or key not in node:
            return MISSING
        node = node[key]
    return node


def records_of(body: Any, path: str, where: str) -> list[Any]:
    """The records of one page.

    Args:
        body: Decoded JSON body.
        path: ``records_path`` of the endpoint.
        where: The request, for messages (``GET https://host/path``).

    Returns:
        The list at ``path``; a single object there is one record; null is no record.

    Raises:
        SourceError: If the path is absent or holds a scalar; the message lists the keys found.
    """
    found = value_at(body, path)
    if found is None:
        return []
    if isinstance(found, list):
        return found
    if isinstance(found, dict) and path:
        return [found]
    if found is MISSING or isinstance(found, dict):
        keys = ", ".join(sorted(body)) if isinstance(body, dict) else type(body).__name__
        wanted = f"records_path {path!r}" if path else "an empty records_path (a top-level list)"
        raise SourceError(f"{where}: {wanted} does not lead to a list; the body has: {keys}")
    raise SourceError(f"{where}: records_path {path!r} holds a {type(found).__name__}, not records")


def flatten(record: Any, keep: Collection[str]) -> dict[str, Any]:
    """One record as a flat ``{column: value}`` dict.

    Args:
        record: A record as decoded from JSON.
        keep: Column names not to flatten below (declared columns).

    Returns:
        The flat record; nested objects' fields are named ``parent__child``.

    Raises:
        SourceError: If two fields flatten onto the same name (``a__b`` next to ``a.b``).
    """
    if not isinstance(record, dict):
        return {SCALAR_FIELD: record}
    flat: dict[str, Any] = {}
    pending: list[tuple[str, Any]] = list(record.items())
    while pending:
        name, value = pending.pop(0)
        if isinstance(value, dict) and value and name not in keep:
            pending[0:0] = [(f"{name}{SEPARATOR}{key}", nested) for key, nested in value.items()]
            continue
        if name in flat:
            raise SourceError(f"field {name!r} appears twice once nested objects are flattened")
        flat[name] = value
    return flat
