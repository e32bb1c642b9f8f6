"""Fuzz test: 1,000 hostile pipeline files through the path of ``orchestra-local validate``.

Files are generated from the real pipelines and the corpus (``fuzzing.py``: byte, line and
structure mutations, alias bombs, deep nesting, huge matrices and strings, wide groups) and
validated in batch subprocesses (the generated ones each in a child forked for it, the mutations one
after another in the batch process) and a handful through the real CLI. Every file must end valid
(exit 0) or invalid (exit 2) with every problem located (file and line), never a traceback; none may
take more than 5 s of CPU or need more than 500 MB, no batch process may pass 500 MB, and
none that Orchestra's validator accepts may be refused. ``benchmarks/validate_fuzz.py`` runs the
same with more files and prints the distribution.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fuzzing import Case, alias_bomb, deep, generate_cases, huge_matrix, huge_string, wide, write_cases  # noqa: E402

CASES = 1_000
CHUNKS = 4
MAX_CPU_SECONDS = 5.0
MAX_RSS_BYTES = 500 * 1024 * 1024
FUZZING = Path(__file__).with_name("fuzzing.py")
CLI = str(Path(sys.executable).with_name("orchestra-local"))


def _batch(folder: Path) -> dict[str, Any]:
    result = subprocess.run([sys.executable, str(FUZZING), str(folder), "--check-agreement-every", "5"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def batches(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    cases = generate_cases(CASES, seed=20261204)
    folders = []
    for chunk in range(CHUNKS):
        folder = tmp_path_factory.mktemp(f"fuzz{chunk}")
        write_cases(cases[chunk::CHUNKS], folder)
        folders.append(folder)
    with ThreadPoolExecutor(max_workers=2) as pool:  # the CI machine has two cores
        return list(pool.map(_batch, folders))


def test_every_case_ends_valid_or_with_located_problems(batches: list[dict[str, Any]]) -> None:
    cases = [case for batch in batches for case in batch["cases"]]
    assert len(cases) == CASES
    bad = [case for case in cases if case["exit"] not in (0, 2) or not case["located"]]
    assert not bad, bad[:5]
    assert {case["exit"] for case in cases} == {0, 2}  # the mutations leave some files valid


def test_no_case_is_slow_or_big(batches: list[dict[str, Any]]) -> None:
    cases = [case for batch in batches for case in batch["cases"]]
    slow = [(case["name"], case["cpu_seconds"]) for case in cases if case["cpu_seconds"] > MAX_CPU_SECONDS]
    assert not slow, slow
    isolated = [case for case in cases if case["isolated"]]
    assert len(isolated) > 100  # every generated case: alias bombs, deep nesting, huge matrices...
    big = [(case["name"], case["peak_rss_bytes"]) for case in isolated if case["peak_rss_bytes"] >= MAX_RSS_BYTES]
    assert not big, big
    # The mutations of real pipelines, validated one after another in one process as for a folder.
    assert max(batch["peak_rss_bytes"] for batch in batches) < MAX_RSS_BYTES


def test_nothing_orchestra_accepts_is_refused(batches: list[dict[str, Any]]) -> None:
    checked = [case for batch in batches for case in batch["cases"] if "refused_but_orchestra_accepts" in case]
    assert len(checked) > 50
    assert not [case["name"] for case in checked if case["refused_but_orchestra_accepts"]]


# Runs the command and reports its exit code, CPU seconds and peak RSS from wait4. The CLI is
# forked from this small interpreter, not from pytest: a child forked from a process counts that
# process's memory in its ru_maxrss until it execs, and pytest grows over a whole suite.
_MEASURE = """
import json, os, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=sys.stderr)
_, status, usage = os.wait4(child.pid, 0)
print(json.dumps([os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024]))
"""


def _cli(path: Path) -> tuple[int, str, float, int]:
    """Run ``orchestra-local validate`` on one file: exit code, stderr, CPU seconds, peak RSS bytes."""
    errors = path.with_suffix(".stderr")
    with errors.open("w") as sink:
        measured = subprocess.run([sys.executable, "-c", _MEASURE, CLI, "validate", str(path)], stdout=subprocess.PIPE,
                                  stderr=sink, timeout=120, check=True, text=True)
    code, cpu, rss = json.loads(measured.stdout)
    return code, errors.read_text(), cpu, rss


def test_a_handful_through_the_real_cli(tmp_path: Path) -> None:
    import random

    rng = random.Random(7)
    cases = [Case("alias_bomb", alias_bomb(rng)), Case("deep", deep(rng)), Case("huge_matrix", huge_matrix(rng)),
             Case("huge_string", huge_string(rng)), Case("wide", wide(rng)), generate_cases(2, seed=99)[1]]
    paths = write_cases(cases, tmp_path)
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(_cli, paths))
    for path, (code, stderr, cpu, rss) in zip(paths, outcomes, strict=True):
        assert code in (0, 2), (path.name, code, stderr[-2000:])
        assert "Traceback" not in stderr
        if code == 2:
            assert f"{path}:" in stderr, stderr[-2000:]
        assert cpu < MAX_CPU_SECONDS + 3, (path.name, cpu)  # + the command's own start-up
        assert rss < MAX_RSS_BYTES, (path.name, rss)
