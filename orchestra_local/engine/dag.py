"""Deterministic topological ordering with readable cycle errors, on top of :mod:`graphlib`."""

from __future__ import annotations

import graphlib
from collections.abc import Iterable, Mapping


class CycleError(ValueError):
    """The graph has a cycle.

    Attributes:
        cycle: The nodes along the cycle in execution order, first node repeated at the end
            (``["a", "b", "a"]``: b depends on a, a depends on b).
    """

    def __init__(self, cycle: list[str]):
        self.cycle = cycle
        super().__init__("dependency cycle: " + " -> ".join(cycle))


def topological_layers(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Order a DAG into layers; each layer's nodes depend only on earlier layers.

    Args:
        graph: Node -> the nodes it depends on (its upstream). Every upstream must be a key.

    Returns:
        Layers of node names, each sorted, so the order is the same on every run.

    Raises:
        CycleError: With the cycle path, when the graph is not acyclic.
    """
    sorter = graphlib.TopologicalSorter({node: sorted(up) for node, up in graph.items()})
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        # graphlib lists each node before the node that depends on it: execution order.
        raise CycleError(list(exc.args[1])) from None
    layers: list[list[str]] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        layers.append(ready)
        sorter.done(*ready)
    return layers


def topological_order(graph: Mapping[str, Iterable[str]]) -> list[str]:
    """Flatten :func:`topological_layers` into one deterministic list (same errors)."""
    return [node for layer in topological_layers(graph) for node in layer]
