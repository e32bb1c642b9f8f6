"""How an attempt of the service integrations (HTTP, SQL, chat webhooks) ends, and their connections.

The engine retries a failed attempt when its :class:`TaskResult` or the
:class:`~orchestra_local.errors.IntegrationError` it raised is ``retryable``. Some failures cannot
be fixed by another attempt (a 4xx answer, invalid SQL, a bad connection field; wrong parameters
raise :class:`~orchestra_local.errors.InvalidParametersError`), and an ambiguous one must not be
repeated (a request that timed out after it was sent, STYLE.md "Retry only what is safe").
Integrations raise :class:`TerminalIntegrationError` for those and :class:`AttemptCancelled` when
the run was cancelled under them; :func:`settled` turns both into results that keep the external
status and the CANCELLED status.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import TypeVar

from orchestra_local.errors import IntegrationError
from orchestra_local.integrations.base import IntegrationParameters, TaskContext, TaskResult
from orchestra_local.spec.statuses import TaskRunStatus

ParamsT = TypeVar("ParamsT", bound=IntegrationParameters)


class TerminalIntegrationError(IntegrationError):
    """A failed attempt that must not be retried (another attempt cannot help, or may do harm).

    Attributes:
        external_status: The external system's status word (e.g. an HTTP status code), if any.
    """

    retryable = False

    def __init__(self, message: str, *, external_status: str | None = None):
        super().__init__(message)
        self.external_status = external_status


class AttemptCancelled(IntegrationError):
    """The pipeline run was cancelled while the attempt was talking to the external system."""


def settled(
    execute: Callable[[TaskContext, ParamsT], TaskResult],
) -> Callable[[TaskContext, ParamsT], TaskResult]:
    """Wrap an integration's ``execute`` so terminal and cancelled attempts become results.

    Args:
        execute: The integration's entry point.

    Returns:
        The same entry point, returning FAILED with ``retryable=False`` for a
        :class:`TerminalIntegrationError` and CANCELLED for :class:`AttemptCancelled`; any other
        :class:`IntegrationError` still reaches the engine, which honours its ``retryable``.
    """

    @functools.wraps(execute)
    def run(ctx: TaskContext, params: ParamsT) -> TaskResult:
        try:
            return execute(ctx, params)
        except TerminalIntegrationError as exc:
            return TaskResult(TaskRunStatus.FAILED, str(exc), external_status=exc.external_status, retryable=False)
        except AttemptCancelled as exc:
            return TaskResult(TaskRunStatus.CANCELLED, str(exc))

    return run


def connection_fields(
    ctx: TaskContext, integration: str, *, required: Iterable[str] = (), optional: Iterable[str] = ()
) -> dict[str, str]:
    """Fields of the task's linked connection, which must belong to ``integration``.

    Fields neither required nor optional are left alone: a connection may also feed PYTHON tasks
    through environment variables, with fields this integration does not read.

    Args:
        ctx: The attempt's context.
        integration: The integration the connection must belong to, e.g. ``POSTGRES``.
        required: Fields that must be present and non-empty.
        optional: Fields returned when present and non-empty.

    Returns:
        Field name -> value for the required fields and the optional ones that are set.

    Raises:
        TerminalIntegrationError: No connection, one of another integration, or missing required
            fields (all of them named in one message; values are never shown).
    """
    try:
        connection = ctx.require_connection(integration)
    except IntegrationError as exc:
        raise TerminalIntegrationError(str(exc)) from exc
    names = list(required)
    missing = [name for name in names if not connection.fields.get(name)]
    if missing:
        raise TerminalIntegrationError(
            f"connection '{connection.name}' lacks field(s) {', '.join(missing)} needed by {ctx.integration_job}; "
            "add them to the connections file (see connections.example.yml)"
        )
    names += [name for name in optional if connection.fields.get(name)]
    return {name: connection.fields[name] for name in names}
