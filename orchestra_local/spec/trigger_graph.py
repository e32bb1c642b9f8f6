"""Loops between pipeline files through ``trigger_events`` (A's end starts B, B's end starts A).

``orchestra-local validate`` over several files warns once per loop (a strongly connected group of
files) in every file of it, at a ``trigger_events`` entry that keeps it going. It is a warning, as Orchestra accepts such files; at run
time the scheduler bounds a chain of trigger events (``scheduling/trigger_events.py``). An entry
with ``pipeline_id: "*"`` listens to every other pipeline and counts as an edge from each of them.
Pipeline ids are the local ones (uuid5 of the repo-relative path, ``engine/runner.pipeline_identity``).
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx

from orchestra_local.errors import Problem
from orchestra_local.settings import find_repo_root
from orchestra_local.spec.loader import LoadedPipeline


def _pipeline_id(loaded: LoadedPipeline) -> str:
    from orchestra_local.engine.runner import pipeline_identity  # the engine imports spec: import late

    return pipeline_identity(loaded.path, find_repo_root(loaded.path.parent))[0]


def trigger_loops(pipelines: Sequence[LoadedPipeline]) -> list[Problem]:
    """One warning per file on each ``trigger_events`` cycle among ``pipelines``, located at its entry.

    Returns:
        Warnings (``type`` ``trigger_loop``), each naming the cycle by file stem; empty without cycles.
    """
    graph = nx.DiGraph()
    by_id = {_pipeline_id(loaded): loaded for loaded in pipelines}
    for downstream_id, loaded in by_id.items():
        graph.add_node(downstream_id)
        for index, entry in enumerate(loaded.model.trigger_events or []):
            wanted = str(entry.pipeline_id).lower()
            upstream_ids = [other for other in by_id if other != downstream_id] if wanted == "*" else [wanted]
            for upstream_id in upstream_ids:
                if upstream_id in by_id:
                    graph.add_edge(upstream_id, downstream_id, index=index)
    problems = []
    # One warning per file per strongly connected component (linear time; listing every simple cycle
    # is exponential when several files use "*").
    for component in nx.strongly_connected_components(graph):
        if len(component) < 2:
            continue
        names = sorted(by_id[node].path.stem for node in component)
        for node in sorted(component, key=lambda node: by_id[node].path.stem):
            upstream = next(source for source, _ in graph.in_edges(node) if source in component)
            loaded = by_id[node]
            loc = ("trigger_events", graph.edges[upstream, node]["index"], "pipeline_id")
            line, column = loaded.locate(loc)
            problems.append(Problem(
                loc=loc, type="trigger_loop", severity="warning", file=str(loaded.path), line=line, column=column,
                msg=f"trigger loop among {', '.join(names)} (this entry listens to {by_id[upstream].path.stem}): "
                    "each run's end starts the next, forever (the local scheduler stops a chain after 10 runs); "
                    "break the loop or use a sensor"))
    return problems
