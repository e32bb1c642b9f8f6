"""Splicing values into shell command lines so they stay data, never syntax.

Used where the runner builds a command line from a template (orchestra-spec section 2, our
choice): a value from ``inputs`` or ``MATRIX`` lands inside a command that may already quote it,
so the quoting depends on where it lands.
"""

from __future__ import annotations

import re
import shlex


def shell_context(text: str, position: int) -> str | None:
    """The quote a POSIX shell would be inside at ``position``: ``"'"``, ``'"'`` or None."""
    quote: str | None = None
    escaped = False
    for char in text[:position]:
        if escaped:
            escaped = False
        elif char == "\\" and quote != "'":
            escaped = True
        elif quote is None and char in "'\"":
            quote = char
        elif char == quote:
            quote = None
    return quote


def quote_for_shell(value: str, context: str | None) -> str:
    """Quote ``value`` so a POSIX shell reads it as literal text inside ``context``.

    Outside quotes: ``shlex.quote``; inside single quotes: close, escape, reopen; inside double
    quotes: backslash-escape ``\\ " $ `` and backticks.
    """
    if context == "'":
        return value.replace("'", "'\\''")
    if context == '"':
        return re.sub(r'([\\"$`])', r"\\\1", value)
    return shlex.quote(value)
