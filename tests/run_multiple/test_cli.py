"""The entry point's arguments, exit code 2 and ``--dry-run``, without a server."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from run_multiple.cli import build_parser, main

REPO_ROOT = Path(__file__).resolve().parents[2]


def write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


CONFIG = {"workspaces": {"local": "TOKEN_VARIABLE_OF_TEST"},
          "pipelines": [{"workspace": "local", "pipeline": "tpch_orders_window",
                         "backfill": {"start": "1995-01-01", "end": "1995-03-31", "step": "1 month",
                                      "inputs": {"start_date": "{window_start}", "end_date": "{window_end}"}}},
                        {"workspace": "local", "pipeline": "tpch_elt", "run_inputs": {"write_disposition": "merge"}}]}


def test_help_lists_every_flag_with_its_default() -> None:
    result = subprocess.run([sys.executable, str(REPO_ROOT / "run_multiple_pipelines.py"), "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    flags = [option for action in build_parser()._actions for option in action.option_strings
             if option.startswith("--") and option != "--help"]
    assert len(flags) == 17
    for flag in flags:
        described = re.search(re.escape(flag) + r"\b[^-].*?\(default: [^)]+\)", text)
        assert described, f"{flag} has no default in --help"
    assert "(default: https://app.getorchestra.io)" in text and "(default: 3)" in text
    assert "Exit codes: 0" in text


def test_dry_run_prints_the_expanded_plan_and_needs_no_token(tmp_path: Path, capsys) -> None:
    config = write(tmp_path / "batch.json", CONFIG)
    assert main(["--config", str(config), "--dry-run", "--app-url", "http://127.0.0.1:9"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    for window in ("1995-01-01..1995-01-31", "1995-02-01..1995-02-28", "1995-03-01..1995-03-31"):
        assert window in out
    assert '"end_date": "1995-02-28"' in out and "tpch_elt" in out and out.count("start") >= 4
    assert not (tmp_path / ".run_multiple_pipelines").exists()


def test_a_typo_in_the_last_entry_is_exit_2_naming_the_entry_and_field(tmp_path: Path, capsys) -> None:
    broken = {**CONFIG, "pipelines": [*CONFIG["pipelines"], {"workspace": "local", "pipeline": "x", "brnach": "main"}]}
    assert main(["--config", str(write(tmp_path / "batch.json", broken)), "--app-url", "http://127.0.0.1:9"]) == 2
    assert "pipelines[2].brnach: Extra inputs are not permitted" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "message"), [
    (["--from", "2024-01-01"], "--from and --to go together"),
    (["--from", "2024-02-01", "--to", "2024-01-01"], "--to 2024-01-01 is before --from 2024-02-01"),
    (["--from", "2024-01-01", "--to", "2024-01-31", "--step", "1 fortnight"], "--step"),
])
def test_bad_ranges_are_exit_2(tmp_path: Path, capsys, args: list[str], message: str) -> None:
    assert main(["--config", str(write(tmp_path / "batch.json", CONFIG)), "--dry-run", *args]) == 2
    assert message in capsys.readouterr().err


def test_a_missing_token_variable_is_exit_2_and_an_unreachable_api_exit_1(tmp_path: Path, capsys, monkeypatch) -> None:
    config = write(tmp_path / "batch.json", CONFIG)
    monkeypatch.delenv("TOKEN_VARIABLE_OF_TEST", raising=False)
    assert main(["--config", str(config), "--app-url", "http://127.0.0.1:9"]) == 2
    assert "environment variable TOKEN_VARIABLE_OF_TEST is not set" in capsys.readouterr().err
    env = tmp_path / "tokens.env"
    env.write_text("TOKEN_VARIABLE_OF_TEST=from-the-env-file-42\n")
    code = main(["--config", str(config), "--env", str(env), "--app-url", "http://127.0.0.1:9", "--max-retries", "0"])
    err = capsys.readouterr().err
    assert code == 1 and "nothing started" in err and "from-the-env-file-42" not in err


def test_bad_flag_values_are_exit_2(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--max-concurrent", "0"])
    assert exited.value.code == 2 and "must be 1 or more" in capsys.readouterr().err
