"""Validator under hostile input: time and memory per mutated pipeline file, by kind of mutation.

Generates ``--cases`` files with ``tests/orchestra_local/spec/fuzzing.py`` (the generator of the
fuzz test: byte, line and structure mutations of the real pipelines and the corpus, alias bombs,
deep nesting, huge matrices and strings, wide groups), validates them in ``--chunks`` subprocesses
exactly as ``orchestra-local validate`` does, and prints per kind: count, exit codes, CPU seconds
(median, p99, max) and peak RSS (generated cases: each file's own, in a child forked for it;
mutations: the batch process's, validating them one after another). Exits 1 when a case crashed,
was not located, took more than 5 s of CPU, or needed 500 MB (the bounds the fuzz test asserts).

    .venv/bin/python benchmarks/validate_fuzz.py [--cases 5000] [--seed 1] [--chunks 4] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

FUZZING = Path(__file__).resolve().parents[1] / "tests" / "orchestra_local" / "spec" / "fuzzing.py"
sys.path.insert(0, str(FUZZING.parent))
from fuzzing import generate_cases, write_cases  # noqa: E402

MAX_CPU_SECONDS = 5.0
MAX_RSS_BYTES = 500 * 1024 * 1024


def run_chunk(folder: Path) -> dict:
    result = subprocess.run([sys.executable, str(FUZZING), str(folder), "--check-agreement-every", "5"],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"batch {folder} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout)


def kind_of(name: str) -> str:
    parts = name.removesuffix(".yml").split("_")
    return "_".join(parts[1:3]) if parts[1] in ("alias", "many", "huge") else parts[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chunks", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    cases = generate_cases(args.cases, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        folders = []
        for chunk in range(args.chunks):
            folder = Path(tmp) / f"chunk{chunk}"
            write_cases(cases[chunk::args.chunks], folder)
            folders.append(folder)
        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            batches = list(pool.map(run_chunk, folders))
    results = [case for batch in batches for case in batch["cases"]]
    by_kind: dict[str, list[dict]] = defaultdict(list)
    for case in results:
        by_kind[kind_of(case["name"])].append(case)
    print(f"{'kind':<14}{'cases':>7}{'exit 0':>8}{'exit 2':>8}{'cpu med':>9}{'cpu p99':>9}{'cpu max':>9}"
          f"{'MiB max':>9}")
    for kind, group in sorted(by_kind.items()):
        cpu = sorted(case["cpu_seconds"] for case in group)
        p99 = cpu[min(len(cpu) - 1, int(len(cpu) * 0.99))]
        print(f"{kind:<14}{len(group):>7}{sum(c['exit'] == 0 for c in group):>8}{sum(c['exit'] == 2 for c in group):>8}"
              f"{statistics.median(cpu):>9.3f}{p99:>9.3f}{cpu[-1]:>9.3f}"
              f"{max(case['peak_rss_bytes'] for case in group) / 2**20:>9.0f}")
    peak = max(batch["peak_rss_bytes"] for batch in batches)
    peak_alone = max((case["peak_rss_bytes"] for case in results if case["isolated"]), default=0)
    total = sum(case["cpu_seconds"] for case in results)
    print(f"total CPU {total:.1f} s for {len(results)} cases; peak RSS of a batch process {peak / 2**20:.0f} MiB, "
          f"of a generated case alone {peak_alone / 2**20:.0f} MiB")
    failures = [case for case in results if case["exit"] not in (0, 2) or not case["located"]
                or case["cpu_seconds"] > MAX_CPU_SECONDS or case.get("refused_but_orchestra_accepts")]
    for case in failures[:20]:
        print(f"FAIL {case['name']}: exit {case['exit']}, {case['cpu_seconds']} s CPU: {case['message']}", file=sys.stderr)
    sys.exit(1 if failures or max(peak, peak_alone) >= MAX_RSS_BYTES else 0)


if __name__ == "__main__":
    main()
