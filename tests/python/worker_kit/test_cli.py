"""The command-line boundary: summary last on stdout, one error line, documented exit codes."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping

import pytest
from worker_kit.cli import add_common_flags, run_cli
from worker_kit.errors import ConfigError, TransientError, UsageError, WorkerError


def parser() -> argparse.ArgumentParser:
    built = argparse.ArgumentParser(prog="worker")
    built.add_argument("--rows", type=int, required=True)
    add_common_flags(built)
    return built


def raising(exc: BaseException) -> Callable[[argparse.Namespace], Mapping[str, object]]:
    def command(args: argparse.Namespace) -> Mapping[str, object]:
        raise exc

    return command


def test_success_prints_the_summary_as_the_last_line(capsys: pytest.CaptureFixture[str]) -> None:
    def command(args: argparse.Namespace) -> Mapping[str, object]:
        print("progress goes to stdout too")
        return {"rows": args.rows, "watermark": None}

    assert run_cli(parser(), command, ["--rows", "3"]) == 0

    out = capsys.readouterr().out.splitlines()
    assert json.loads(out[-1]) == {"rows": 3, "watermark": None}


@pytest.mark.parametrize(
    ("exc", "code", "line"),
    [
        (WorkerError("table 'x' not found"), 1, "Error: table 'x' not found"),
        (ConfigError("environment variable X is not set"), 1, "Error: environment variable X"),
        (UsageError("--a needs --b"), 2, "Error: --a needs --b"),
        (TransientError("locked"), 1, "Error: locked"),
        (KeyboardInterrupt(), 130, "Error: interrupted"),
        (
            RuntimeError("boom\nsecond line"),
            1,
            "Error: unexpected RuntimeError: boom",
        ),
        (
            WorkerError("cannot reach postgresql://app:hunter2@db/crm"),
            1,
            "Error: cannot reach postgresql://app:***@db/crm",
        ),
    ],
)
def test_failures_are_one_line_with_their_exit_code(
    capsys: pytest.CaptureFixture[str], exc: BaseException, code: int, line: str
) -> None:
    assert run_cli(parser(), raising(exc), ["--rows", "1"]) == code

    captured = capsys.readouterr()
    assert captured.out == ""
    errors = captured.err.strip().splitlines()
    assert len(errors) == 1
    assert errors[0].startswith(line)
    assert "hunter2" not in captured.err


def test_unexpected_errors_suggest_debug_which_shows_the_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_cli(parser(), raising(RuntimeError("boom")), ["--rows", "1"]) == 1
    assert "(run with --debug for the traceback)" in capsys.readouterr().err

    assert run_cli(parser(), raising(RuntimeError("boom")), ["--rows", "1", "--debug"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.strip().splitlines()[-1] == "Error: unexpected RuntimeError: boom"


def test_transient_flag_is_explicit() -> None:
    assert TransientError("x").transient
    assert not WorkerError("x").transient
    assert not UsageError("x").transient
    assert isinstance(UsageError("x"), ValueError)


def test_invalid_arguments_exit_2_from_argparse(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        run_cli(parser(), raising(RuntimeError("never runs")), ["--rows", "many"])

    assert raised.value.code == 2
    assert "invalid int value: 'many'" in capsys.readouterr().err
