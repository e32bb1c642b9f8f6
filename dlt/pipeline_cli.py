"""The command-line boundary of the dlt pipelines here: the only place exceptions become exit codes.

Each pipeline script builds an argparse parser, hands it and its ``load`` function to
:func:`run_cli`, and exits with what it returns. On success the summary ``load`` returns is printed
as the last line of stdout (one JSON object); on failure one ``Error: ...`` line goes to stderr,
masked so no password or token reaches a log.

Exit codes: 0 the load landed (or there was nothing new to load), 1 the load failed, 2 invalid
arguments or missing configuration, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from dlt.common.configuration.exceptions import ConfigFieldMissingException, LookupTrace, LookupTraces
from dlt.pipeline.exceptions import PipelineStepFailed
from sqlalchemy.exc import NoSuchTableError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

PROJECT_DIR = Path(__file__).resolve().parent
"""This folder: dlt reads ``.dlt/config.toml`` and ``.dlt/secrets.toml`` from here."""

# scheme://user:password@host -> scheme://user:***@host, wherever a URL appears in a message.
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][\w+.-]*://[^:/@\s]*:)[^@\s]+@")
# Environment variables whose values are masked in messages (dlt's SOURCES__X__CREDENTIALS etc.).
_SECRET_NAME = re.compile(r"CREDENTIALS|TOKEN|PASSWORD|SECRET|API_KEY|PRIVATE_KEY")
_MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words

Load = Callable[[argparse.Namespace], Mapping[str, object]]


class UsageError(ValueError):
    """Arguments or configuration that cannot work (exit code 2); found before any data moves."""


def add_common_flags(parser: argparse.ArgumentParser) -> None:
    """Add the flag every pipeline script accepts: ``--debug``.

    Args:
        parser: The script's parser; modified in place.
    """
    parser.add_argument(
        "--debug", action="store_true", help="on failure print the full traceback; log dlt at DEBUG level"
    )


def run_cli(parser: argparse.ArgumentParser, load: Load, argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run ``load`` and turn its outcome into output and an exit code.

    Args:
        parser: Parser with :func:`add_common_flags` applied.
        load: Does the work and returns the JSON-serialisable summary of the load.
        argv: Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns:
        The process exit code (see the module docstring). argparse itself exits with 2 for
        malformed arguments.
    """
    args = parser.parse_args(argv)
    debug = bool(args.debug)
    _configure(debug)
    try:
        summary = load(args)
    except KeyboardInterrupt:
        _print_error("interrupted", debug)
        return EXIT_INTERRUPTED
    except (UsageError, ConfigFieldMissingException) as exc:
        _print_error(describe_error(exc), debug, hint=False)
        return EXIT_USAGE
    except Exception as exc:  # the boundary: whatever failed becomes one line and exit code 1
        _print_error(describe_error(exc), debug, hint=not debug)
        return EXIT_FAILURE
    sys.stdout.write(json.dumps(summary, default=str) + "\n")
    sys.stdout.flush()
    return EXIT_OK


def describe_error(exc: BaseException) -> str:
    """One line saying what failed and why, for the ``Error:`` line.

    Args:
        exc: The exception that ended the load.

    Returns:
        A single-line, unmasked description (:func:`mask_secrets` is applied when printing).
    """
    if isinstance(exc, UsageError):
        return str(exc)
    if isinstance(exc, ConfigFieldMissingException):
        return _describe_missing_config(exc)
    if isinstance(exc, PipelineStepFailed):
        return f"dlt {exc.step} step failed: {_describe_cause(exc.exception)}"
    return _describe_cause(exc)


def mask_secrets(text: str, environ: Mapping[str, str] | None = None) -> str:
    """Remove secrets from a message.

    Args:
        text: Any message that may quote a connection URL or a secret's value.
        environ: Environment whose secret-looking variables (names containing CREDENTIALS, TOKEN,
            PASSWORD, SECRET, API_KEY or PRIVATE_KEY) are masked; defaults to ``os.environ``.

    Returns:
        The text with those values replaced by ``***`` and every ``scheme://user:password@``
        rewritten to ``scheme://user:***@``.
    """
    env = os.environ if environ is None else environ
    secrets = [value for name, value in env.items()
               if _SECRET_NAME.search(name.upper()) and len(value) >= _MIN_SECRET_LENGTH]
    secrets.sort(key=len, reverse=True)  # longest first, so a secret containing another is masked whole
    for value in secrets:
        text = text.replace(value, "***")
    return _URL_PASSWORD.sub(r"\g<head>***@", text)


def _describe_missing_config(exc: ConfigFieldMissingException) -> str:
    """Name each missing field with the two most specific environment variables that would set it."""
    parts = []
    for field in exc.fields:
        keys = list(dict.fromkeys(_env_keys(exc.traces.get(field, []))))
        variables = f"set {' or '.join(keys[:2])}, or " if keys else ""
        parts.append(f"{field} ({variables}add it to .dlt/config.toml or .dlt/secrets.toml)")
    return f"missing configuration: {'; '.join(parts)}"


def _env_keys(traces: Sequence[LookupTrace | LookupTraces]) -> Iterator[str]:
    """Environment-variable names dlt tried for one field, most specific first.

    For a field that is itself a configuration (e.g. ``credentials``), dlt reports the keys of its
    first missing sub-field (``..._CREDENTIALS__DRIVERNAME``); the sub-field suffix is dropped,
    because a connection string in the field's own variable sets it whole.
    """
    for trace in traces:
        if isinstance(trace, LookupTraces):
            first_missing = next(iter(trace.traces.values()), [])
            yield from (key.rsplit("__", 1)[0] for key in _env_keys(first_missing))
        elif trace.provider == "Environment Variables":
            yield trace.key


def _describe_cause(exc: BaseException) -> str:
    """Describe the innermost exception of a chain, prefixed with its type name."""
    root = exc
    seen = {id(root)}
    while True:
        inner = root.exception if isinstance(root, PipelineStepFailed) else root.__cause__
        if inner is None or id(inner) in seen:
            break
        seen.add(id(inner))
        root = inner
    name = type(root).__name__
    text = " ".join(str(root).split("\n(Background on this error")[0].split())  # SQLAlchemy's footer
    if isinstance(root, NoSuchTableError):
        return f"table {text!r} not found in the source database (check --table and --schema)"
    return f"{name}: {text}" if text else name


def _configure(debug: bool) -> None:
    """Set up logging and dlt's project folder; runs once in the boundary, never at import time."""
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    for noisy in ("sqlalchemy", "urllib3"):  # they log connection details at INFO
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # dlt looks for .dlt/ in the working directory; pin it to this folder so running a script
    # from elsewhere (python dlt/sql_database_pipeline.py) reads the same config.
    os.environ.setdefault("DLT_PROJECT_DIR", str(PROJECT_DIR))
    if debug:
        os.environ.setdefault("RUNTIME__LOG_LEVEL", "DEBUG")


def _print_error(message: str, debug: bool, hint: bool = False) -> None:
    """Write the traceback (only with --debug) and one masked ``Error:`` line to stderr.

    Args:
        message: What failed; whitespace and newlines are collapsed into one line.
        debug: Print the traceback of the exception being handled first.
        hint: Append the advice to re-run with ``--debug``.
    """
    if debug:
        traceback.print_exc(file=sys.stderr)
    line = " ".join(message.split()) or "unknown error"
    suffix = " (run with --debug for the traceback)" if hint else ""
    sys.stderr.write(f"Error: {mask_secrets(line)}{suffix}\n")
    sys.stderr.flush()
