"""Progress events of a pipeline run, for the CLI's live display (and anything else that listens).

Listeners are called from the executor's main thread and from worker threads; implementations
must be thread-safe and fast (they sit on the engine's hot path).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchestra_local.engine.graph import NodeRun
    from orchestra_local.engine.plan import Plan


class RunListener:
    """Receives run events; every method is a no-op here, so listeners override what they need."""

    def run_started(self, pipeline_run_id: str, plan: Plan) -> None:
        """The run record exists and tasks are about to start."""

    def nodes_added(self, count: int) -> None:
        """``count`` task runs were added (a matrix expanded at run time)."""

    def node_changed(self, node: NodeRun) -> None:
        """A task run changed status (QUEUED, RUNNING, a retry, or a final status)."""

    def note(self, message: str) -> None:
        """A one-line remark for the user (e.g. a build_command not run locally)."""

    def run_finished(self, pipeline_run_id: str, status: str) -> None:
        """The run reached its final status."""
