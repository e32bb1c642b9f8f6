"""Checks on request values that end up in a task's process (its argv or its environment).

An operating system cannot pass a NUL character in an argument or an environment variable, and
``=`` cannot appear in a variable's name: such a value accepted at start would fail every task
later with an internal error. Request models call these validators so the request answers 422
up front, naming the offending key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

NUL = "\x00"


def without_nul(value: Any, where: str = "value") -> Any:
    """Return ``value`` unchanged after checking no string inside it (keys included) holds a NUL.

    Args:
        value: A JSON-like value (str, number, bool, None, list, dict).
        where: Path of the value, for the message (``runInputs.name``).

    Raises:
        ValueError: A string holds a NUL character (pydantic turns it into a 422 item).
    """
    if isinstance(value, str):
        if NUL in value:
            raise ValueError(f"{where} must not contain a NUL character (a process cannot receive it)")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            without_nul(str(key), f"{where} key {str(key)[:40]!r}")
            without_nul(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            without_nul(item, f"{where}[{index}]")
    return value


def environment_names(value: Mapping[str, Any] | None, where: str = "environmentOverrides") -> Any:
    """Check names and values of environment overrides: names non-empty without ``=``, no NUL anywhere.

    Raises:
        ValueError: The first offending name or value.
    """
    if value is None:
        return value
    for name in value:
        if not name or "=" in name:
            raise ValueError(f"{where}: {name!r} is not a valid environment variable name (empty or holds '=')")
    return without_nul(value, where)
