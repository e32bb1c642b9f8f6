"""The exception base of the workers and the errors every worker can raise.

Each error says whether retrying can help (``transient``) and which exit code the command-line
boundary uses for it (``exit_code``). Subclasses also inherit the built-in exception they
resemble, so callers that only know the standard library can still catch them.
"""

from __future__ import annotations

from typing import ClassVar

EXIT_FAILURE = 1
EXIT_USAGE = 2


class WorkerError(Exception):
    """Base of every error a worker raises on purpose; its message is one line for the user.

    Attributes:
        transient: True when the same invocation may succeed if retried later (a lock held by
            another process, a dropped connection); False when a retry cannot help.
        exit_code: The process exit code the command-line boundary uses for this error.
    """

    transient: ClassVar[bool] = False
    exit_code: ClassVar[int] = EXIT_FAILURE


class UsageError(WorkerError, ValueError):
    """The command line is invalid on its face (conflicting or malformed options)."""

    exit_code: ClassVar[int] = EXIT_USAGE


class ConfigError(WorkerError, ValueError):
    """Configuration the worker needs is missing or malformed (an unset environment variable)."""


class TransientError(WorkerError, RuntimeError):
    """A failure that may go away on its own; retrying the same invocation is safe."""

    transient: ClassVar[bool] = True
