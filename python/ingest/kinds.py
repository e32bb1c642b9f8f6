"""How a source or destination kind plugs into the worker: its own CLI options and a factory.

Each kind (``sql``, ``salesforce``, ``rest``; ``duckdb``, ``postgres``, ``dlt``) lives in its own
module and registers a :class:`Kind` in ``ingest.sources.SOURCES`` or
``ingest.destinations.DESTINATIONS``. The CLI gives every kind an argument group and hands the
kind exactly the option values it declared, so adding a kind never touches the CLI.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class OptionGroup:
    """An argparse group that remembers the option names (``dest``) a kind adds to it."""

    def __init__(self, group: argparse._ArgumentGroup):
        self._group = group
        self.dests: list[str] = []

    def add(self, *flags: str, **kwargs: Any) -> argparse.Action:
        """Add an option, as ``argparse.ArgumentParser.add_argument`` does.

        An option another kind already added (``--schema`` of ``sql`` and ``postgres-cdc``) is
        shared: both kinds receive its value, and the first kind's help text is shown.
        """
        existing = self._group._option_string_actions.get(flags[0])  # the parser's table of options
        if existing is not None:
            self.dests.append(existing.dest)
            return existing
        action = self._group.add_argument(*flags, **kwargs)
        self.dests.append(action.dest)
        return action


@dataclass(frozen=True)
class Kind(Generic[T]):
    """A registered source or destination kind.

    Attributes:
        name: What ``--source`` / ``--destination`` takes, e.g. ``sql``.
        summary: One line for ``--help``.
        open: ``(options, environ) -> T``: build the source or destination from the kind's option
            values (by ``dest``) and the environment (where secrets come from). Raises the
            worker's ``UsageError``/``ConfigError`` for bad values or missing variables.
        add_options: Adds the kind's own options to its group (none by default).
    """

    name: str
    summary: str
    open: Callable[[Mapping[str, Any], Mapping[str, str]], T]
    add_options: Callable[[OptionGroup], None] = field(default=lambda _group: None)


def seconds(text: str) -> float:
    """argparse type: a non-negative number of seconds."""
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be zero or more seconds, got {text}")
    return value


def add_kind_options(parser: argparse.ArgumentParser, role: str, kinds: Mapping[str, Kind[Any]]) -> dict[str, list[str]]:
    """Give each kind an argument group; returns the option names of each kind."""
    dests = {}
    for name, kind in sorted(kinds.items()):
        group = OptionGroup(parser.add_argument_group(f"{role} {name}", kind.summary))
        kind.add_options(group)
        dests[name] = group.dests
    return dests


def options_of(args: argparse.Namespace, dests: list[str]) -> dict[str, Any]:
    """The values of one kind's options."""
    return {dest: getattr(args, dest) for dest in dests}
