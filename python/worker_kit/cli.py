"""The command-line boundary shared by the workers: the only place exceptions become exit codes.

A worker's ``main`` parses its arguments, runs, and returns a JSON-serialisable summary. This
module prints that summary as the last line of stdout and exits 0; on failure it prints one
``Error: ...`` line on stderr (the traceback only with ``--debug``) and exits with the code of the
error: 1 for failures, 2 for invalid arguments, 130 when interrupted (SIGINT or SIGTERM).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence

from worker_kit.connection import mask_secrets
from worker_kit.errors import EXIT_FAILURE, WorkerError

EXIT_INTERRUPTED = 130

Command = Callable[[argparse.Namespace], Mapping[str, object]]


def add_common_flags(parser: argparse.ArgumentParser) -> None:
    """Add the flags every worker accepts: ``--debug`` and ``--quiet``.

    Args:
        parser: The worker's argument parser; modified in place.
    """
    parser.add_argument(
        "--debug",
        action="store_true",
        help="on failure, print the full traceback; also log debug messages to stderr",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="log only warnings and errors to stderr"
    )


def run_cli(
    parser: argparse.ArgumentParser, command: Command, argv: Sequence[str] | None = None
) -> int:
    """Parse arguments, run ``command`` and turn its outcome into output and an exit code.

    Args:
        parser: Parser built with :func:`add_common_flags` applied.
        command: Does the work; returns the summary printed as the last stdout line.
        argv: Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns:
        The process exit code: 0 when the command returned, the error's ``exit_code`` for a
        :class:`WorkerError`, 1 for any other exception, 130 when interrupted. Argument errors
        exit with status 2 from inside argparse.
    """
    args = parser.parse_args(argv)
    # Orchestra stops a task (timeout, cancel) with SIGTERM: treat it like Ctrl-C, so `finally`
    # blocks run (temporary files removed, open transactions rolled back) before exiting 130.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    debug = bool(getattr(args, "debug", False))
    _configure_logging(debug=debug, quiet=bool(getattr(args, "quiet", False)))
    try:
        summary = command(args)
    except WorkerError as exc:
        _print_error(str(exc), debug)
        return exc.exit_code
    except KeyboardInterrupt:
        _print_error("interrupted", debug)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the boundary: one line, not a traceback
        hint = "" if debug else " (run with --debug for the traceback)"
        _print_error(f"unexpected {type(exc).__name__}: {exc}{hint}", debug)
        return EXIT_FAILURE
    sys.stdout.write(json.dumps(summary) + "\n")
    sys.stdout.flush()
    return 0


def _print_error(message: str, debug: bool) -> None:
    """Write the traceback (debug only) and one masked ``Error:`` line to stderr."""
    if debug:
        traceback.print_exc(file=sys.stderr)
    first_line = message.strip().splitlines()[0] if message.strip() else "unknown error"
    sys.stderr.write(f"Error: {mask_secrets(first_line)}\n")
    sys.stderr.flush()


def _configure_logging(debug: bool, quiet: bool) -> None:
    """Send log records to stderr (times in UTC); called once by the boundary, never at import time."""
    level = logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    for handler in logging.getLogger().handlers:  # times in UTC, whatever the machine's zone
        if handler.formatter is not None:
            handler.formatter.converter = time.gmtime
    if not debug:
        # Third-party libraries log connection details at INFO; keep stderr to our progress.
        for noisy in ("sqlalchemy", "urllib3", "httpx", "botocore", "aiobotocore", "s3fs"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
