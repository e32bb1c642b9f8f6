"""Splicing values into shell command lines so they stay data, never syntax.

Used where the runner builds a command line from a template (``command`` of
PYTHON_EXECUTE_SCRIPT; ``docs/orchestra-contract.md`` section 2, our choice): a value that does
not come from the pipeline file itself (run inputs, MATRIX, ENV, secrets, task outputs) lands
inside a command that may already quote it, so its quoting depends on where it lands.

How, by construction:

1. Every such value is replaced by an inert placeholder word and the command is parsed by
   ``bashlex`` (a port of bash's own grammar). The parser, not a character scan, decides the
   structure: which word, command substitution (``$( )`` or backticks), process substitution,
   parameter expansion or here-document the placeholder is in. Inside the one word that holds it,
   the quote in force (none, ``'``, ``"``) is read from that word's own text, skipping the nested
   substitutions the parser located.
2. The value is quoted for that context: ``shlex.quote`` outside quotes (also at the top of a
   ``$( )`` body, including ``"$( )"``, whose body starts a new quoting context), close-escape-reopen
   inside ``'...'``, backslash before ``\\ " $ ``` inside ``"..."``, backslash before ``\\ $ ``` in
   the body of an unquoted here-document.
3. In a here-document, no line of the finished body may be its delimiter (a value cannot end it).

The parser's known misreadings are not trusted: bashlex reports ``$( )`` and ``$X`` inside
``'...'`` too, so a value whose enclosing substitution starts inside single quotes is refused.
The proof is ``tests/orchestra_local/test_injection_property.py``: hostile values through every
context, run by ``bash`` and ``/bin/sh``, checked by the argv a child received.

Refused with :class:`ShellPlacementError` (a located :class:`ExpressionError`) rather than guessed:
a command ``bashlex`` cannot parse (arithmetic ``$(( ))``, a here-document with a quoted
delimiter), a value in a comment, in ``$'...'``, in a parameter expansion (``${X:-...}``), after
``$``, ``~`` or a backslash, in a here-document whose body also holds ``$( )``, ``${ }`` or
backticks (bashlex does not parse bodies), inside backticks (whose extra backslash pass bashlex does not model:
write ``$( )``), in a ``<<-`` here-document, a value holding a NUL character (no command line can carry one), and a
value that would end a here-document early. The fix the error proposes: pass the value as a plain
argument (``python x.py --x ${{ inputs.x }}``) and do the rest in Python.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from orchestra_local.errors import ExpressionError

PLACEHOLDER = "%ORCHLOCAL{salt}V{index}%"
"""An inert word (``%`` is not special to the shell) standing for a value while the template is parsed."""

HOW_TO_FIX = "pass the value as a plain argument, e.g. `python x.py --x ${{ inputs.x }}`, and do the rest in Python"


class ShellPlacementError(ExpressionError):
    """A value cannot be placed in a shell command so that it is guaranteed to stay data."""


@dataclass(frozen=True)
class ShellValue:
    """One ``${{ ... }}`` of a command template, already evaluated and rendered.

    Attributes:
        text: The rendered value.
        expression: The expression text, for error messages.
        quote: True when the value is data to protect (it read a namespace); False for a value written
            in the pipeline file itself (a literal), which is spliced as raw text like any parameter.
    """

    text: str
    expression: str
    quote: bool = True


def build_command(pieces: Sequence[str | ShellValue], where: str | None = None) -> str:
    """Join literal template text and values into a command line where every protected value is data.

    Args:
        pieces: Template text (``str``) and values, in order.
        where: YAML path of the parameter, for errors.

    Returns:
        The command line. With no protected value, exactly the joined text (the template is not parsed).

    Raises:
        ShellPlacementError: A value cannot be placed safely (see the module docstring).
    """
    salt = 0
    template_text = "".join(p if isinstance(p, str) else p.text for p in pieces if not _protected(p))
    while f"%ORCHLOCAL{salt}V" in template_text:
        salt += 1
    probe_parts: list[str] = []
    values: dict[str, ShellValue] = {}
    for piece in pieces:
        if isinstance(piece, str):
            probe_parts.append(piece)
        elif not piece.quote:
            probe_parts.append(piece.text)
        else:
            if "\x00" in piece.text:
                raise ShellPlacementError(
                    "the value contains a NUL character, which no command line can carry; remove it from the value",
                    expression=piece.expression, where=where)
            token = PLACEHOLDER.format(salt=salt, index=len(values))
            values[token] = piece
            probe_parts.append(token)
    probe = "".join(probe_parts)
    if not values:
        return probe
    first = next(iter(values.values()))
    trees = _parse(probe, first, where)
    places = {token: _context(probe, trees, token, value, where) for token, value in values.items()}
    command, moved = _replace(probe, {token: quote_for_shell(values[token].text, place.quote)
                                      for token, place in places.items()})
    for token, place in places.items():
        if place.quote == "heredoc":
            body = command[moved(place.heredoc.pos[0]):moved(place.heredoc.pos[1])].split("\n")[:-1]
            if place.delimiter in body:
                raise ShellPlacementError(
                    f"the value would end the here-document early (a line '{place.delimiter}'); {HOW_TO_FIX}",
                    expression=values[token].expression, where=where)
    return command


def _replace(probe: str, quoted: dict[str, str]) -> tuple[str, Callable[[int], int]]:
    """Put each token's quoted text in place; also return the map of a probe position to the command's."""
    spots = sorted((probe.index(token), token) for token in quoted)
    pieces: list[str] = []
    shifts: list[tuple[int, int]] = []
    last = shift = 0
    for position, token in spots:
        pieces += [probe[last:position], quoted[token]]
        last = position + len(token)
        shift += len(quoted[token]) - len(token)
        shifts.append((last, shift))
    pieces.append(probe[last:])

    def moved(position: int) -> int:
        return position + next((total for after, total in reversed(shifts) if position >= after), 0)

    return "".join(pieces), moved


def _protected(piece: str | ShellValue) -> bool:
    return isinstance(piece, ShellValue) and piece.quote


def _parse(text: str, value: ShellValue, where: str | None) -> list[Any]:
    # Imported here: bashlex builds its LALR tables on import (~0.3 s), and most commands hold no
    # value to place, so most runs and validations never need it.
    import bashlex
    import bashlex.errors

    try:
        return list(bashlex.parse(text))
    except (bashlex.errors.ParsingError, NotImplementedError, AssertionError, IndexError, TypeError) as exc:
        detail = str(exc) or type(exc).__name__
        raise ShellPlacementError(
            f"the command cannot be read by the shell parser ({detail}), so the value cannot be placed safely "
            f"in it; {HOW_TO_FIX}", expression=value.expression, where=where) from None


def _children(node: Any) -> Iterator[Any]:
    for attr in ("parts", "list"):
        yield from getattr(node, attr, None) or []
    for attr in ("command", "heredoc", "output"):
        child = getattr(node, attr, None)
        if child is not None and hasattr(child, "kind"):
            yield child


def _walk(nodes: Sequence[Any], ancestors: tuple[Any, ...] = ()) -> Iterator[tuple[Any, tuple[Any, ...]]]:
    for node in nodes:
        yield node, ancestors
        yield from _walk(list(_children(node)), (*ancestors, node))


@dataclass(frozen=True)
class _Place:
    """Where a value lands: its quoting context and, in a here-document, that document."""

    quote: str | None  # None, "'", '"' or "heredoc"
    heredoc: Any = None  # the here-document node, for "heredoc"
    delimiter: str = ""


def _context(probe: str, trees: list[Any], token: str, value: ShellValue, where: str | None) -> _Place:
    """Where ``token`` sits in ``probe``: its quote (None, ``"'"``, ``'"'``, ``"heredoc"``)."""
    start = probe.index(token)
    end = start + len(token)

    def refuse(why: str) -> ShellPlacementError:
        return ShellPlacementError(f"cannot be placed safely in this shell command: it sits {why}; {HOW_TO_FIX}",
                                   expression=value.expression, where=where)

    holders = [(node, chain) for node, chain in _walk(trees)
               if node.kind in ("word", "assignment", "heredoc", "parameter", "tilde")
               and node.pos[0] <= start and end <= node.pos[1]]
    if not holders:
        raise refuse("in a shell comment or where the shell reads no word")
    # The innermost holder; on a tie, the expansion (its word spans exactly the same text).
    node, chain = min(holders, key=lambda item: (item[0].pos[1] - item[0].pos[0],
                                                 item[0].kind not in ("parameter", "tilde")))
    enclosing = (*chain, node)
    for index, outer in enumerate(enclosing):
        if outer.kind not in ("commandsubstitution", "processsubstitution", "parameter", "tilde"):
            continue
        word = next((w for w in reversed(enclosing[:index]) if w.kind in ("word", "assignment")), None)
        # bashlex also reports $( ) and $X inside '...', where the shell expands nothing.
        if word is not None and _quote_in_word(probe, word, outer.pos[0], refuse) not in (None, '"'):
            raise refuse("in single quotes after a '$' (the shell parser misreads that text)")
        if outer.kind == "commandsubstitution" and probe[outer.pos[0]] == "`":
            raise refuse("inside backticks (write $( ) there)")
    if node.kind == "parameter":
        raise refuse("inside a parameter expansion such as ${X:-...} or right after '$'")
    if node.kind == "tilde":
        raise refuse("right after '~'")
    if node.kind == "heredoc":
        redirect = chain[-1]
        if redirect.type == "<<-":
            raise refuse("in a '<<-' here-document (its lines lose their leading tabs; use '<<')")
        body = probe[node.pos[0]:node.pos[1]]
        # bashlex does not parse a here-document's body, yet the shell expands $( ), ${ } and
        # backticks in it: a value there could be inside one, so such bodies are refused whole.
        if any(mark in body for mark in ("$(", "${", "`")):
            raise refuse("in a here-document that also holds $( ), ${ } or backticks")
        before = probe[node.pos[0]:start]
        if before.endswith("$") or (len(before) - len(before.rstrip("\\"))) % 2:
            raise refuse("right after '$' or a backslash")
        return _Place("heredoc", node, redirect.output.word)
    quote = _quote_in_word(probe, node, start, refuse)
    if quote != "'" and probe[start - 1:start] == "$":
        raise refuse("right after '$'")
    return _Place(quote)


def _quote_in_word(probe: str, word: Any, start: int, refuse: Callable[[str], ShellPlacementError]) -> str | None:
    """The quote in force at ``start`` inside ``word`` (its nested substitutions skipped)."""
    skip = sorted((p.pos for p in getattr(word, "parts", []) or [] if p.pos[1] <= start), key=lambda s: s[0])
    quote: str | None = None
    i = word.pos[0]
    while i < start:
        if skip and i >= skip[0][0]:
            span = skip.pop(0)
            if quote in (None, '"') and i == span[0]:  # nothing expands in '...' (bashlex may say otherwise)
                i = span[1]
            continue
        char = probe[i]
        if quote == "'":
            quote = None if char == "'" else quote
        elif char == "\\":
            if i + 1 == start:
                raise refuse("right after a backslash")
            i += 1
        elif quote == "$'":
            quote = None if char == "'" else quote
        elif char == '"':
            quote = None if quote == '"' else '"'
        elif quote is None and char == "'":
            quote = "$'" if probe[i - 1:i] == "$" and i - 1 >= word.pos[0] else "'"
        i += 1
    if quote == "$'":
        raise refuse("inside $'...'")
    return quote


def quote_for_shell(value: str, context: str | None) -> str:
    """Quote ``value`` so the shell reads it back as exactly ``value`` in ``context``.

    Args:
        value: The text (no NUL character).
        context: None (outside quotes, including the top of a ``$( )`` body), ``"'"``, ``'"'``, or
            ``"heredoc"`` (the body of a here-document with an unquoted delimiter).
    """
    if context == "'":
        return value.replace("'", "'\\''")
    if context == '"':
        return re.sub(r'([\\"$`])', r"\\\1", value)
    if context == "heredoc":
        return re.sub(r"([\\$`])", r"\\\1", value)
    return shlex.quote(value)
