"""dlt/archive_files.py and filesystem_pipeline.py --all-files: the pending/archive pattern of landed files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.dlt.conftest import RunScript


def _land(root: Path, *names: str) -> list[Path]:
    folder = root / "pending" / "sales" / "2026-12-06"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        (folder / name).write_text("o_orderkey,o_totalprice\n1,10.50\n")
        paths.append(folder / name)
    return paths


def test_only_the_listed_files_move_and_a_retry_moves_nothing_twice(run_script: RunScript, tmp_path: Path) -> None:
    root = tmp_path / "datasets"
    loaded = _land(root, "orders-0001.csv", "orders-0002.csv")
    (late,) = _land(root, "orders-0003.csv")  # landed while the load ran: not in its files output
    (root / "pending" / "sales" / "2026-12-06.ack").write_text("")
    env = {"LOADED_FILES": json.dumps([path.as_uri() for path in loaded])}

    first = run_script("archive_files.py", "--root", str(root), "--domain", "sales", "--ack-ds", "2026-12-06", env=env)
    retried = run_script("archive_files.py", "--root", str(root), "--domain", "sales", env=env)

    archive = root / "archive" / "sales"
    assert first.returncode == 0, first.stderr
    assert first.summary["archived"] == [str(archive / "2026-12-06" / p.name) for p in loaded]
    assert first.summary["ack_file"] == str(archive / "2026-12-06.ack")
    assert sorted(p.name for p in (archive / "2026-12-06").iterdir()) == ["orders-0001.csv", "orders-0002.csv"]
    assert late.exists()
    assert retried.returncode == 0 and retried.summary == {"archived": [], "already_archived": 2, "ack_file": None}


def test_a_file_outside_the_pending_area_or_lost_is_an_error(run_script: RunScript, tmp_path: Path) -> None:
    root = tmp_path / "datasets"
    (lost,) = _land(root, "orders-0001.csv")
    lost.unlink()
    outside = tmp_path / "elsewhere.csv"
    outside.write_text("x\n")

    escaped = run_script("archive_files.py", "--root", str(root), "--domain", "sales",
                         env={"LOADED_FILES": json.dumps([outside.as_uri()])})
    missing = run_script("archive_files.py", "--root", str(root), "--domain", "sales",
                         env={"LOADED_FILES": json.dumps([lost.as_uri()])})
    garbled = run_script("archive_files.py", "--root", str(root), "--domain", "sales", env={"LOADED_FILES": "[oops"})

    escaped.assert_failed(2, "is not under the pending area")
    missing.assert_failed(1, "is neither pending nor archived")
    garbled.assert_failed(2, "must hold a JSON list of file URLs")
    assert outside.exists()


def test_all_files_needs_merge(run_script: RunScript, tmp_path: Path) -> None:
    result = run_script("filesystem_pipeline.py", "--table", "orders", "--bucket-url", str(tmp_path),
                        "--all-files", "--write-disposition", "append")

    result.assert_failed(2, "use --write-disposition merge with --primary-key")
