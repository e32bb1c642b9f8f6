"""Mutated pipeline files for the validator's fuzz test and benchmark, and a batch runner for them.

Cases are generated deterministically from a seed, starting from the real pipelines in
``orchestra/`` and the corpus: byte and line edits, structural edits of the parsed document, alias
bombs, many aliases, deep nesting, huge matrices, huge strings and expressions, wide groups.

The batch runner validates each file exactly as ``orchestra-local validate`` does
(``spec.loader.validate_file``) and reports, per case, the exit code the command would give, the
time taken and whether every problem is located (file and line), plus peak RSS (see ``run_batch``)::

    python tests/orchestra_local/spec/fuzzing.py CASES_DIR [--check-agreement-every N]

prints one JSON object on stdout. Used by ``test_fuzz.py`` and ``benchmarks/validate_fuzz.py``.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
SEEDS = sorted((REPO / "orchestra").glob("*.yml")) + sorted((REPO / "tests/orchestra_local/spec/corpus").rglob("*.yml"))
TASK = "{integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, parameters: {command: python x.py}}"
SPECIAL = [b":", b"-", b"[", b"]", b"{", b"}", b"&a", b"*a", b"!!", b"|", b">", b"'", b'"', b"#", b"\n", b"\t",
           b"  ", b"\x00", b"\xff", b"${{", b"}}", b"\xc3\x28", b"? ", b"%YAML 1.2\n", b"---\n", b"\xef\xbb\xbf"]


@dataclass(frozen=True)
class Case:
    """One generated file: its name (which says how it was made) and bytes."""

    name: str
    data: bytes


def _plain(text: str) -> Any:
    from ruamel.yaml import YAML

    try:
        return YAML(typ="safe", pure=True).load(text)
    except Exception:  # noqa: BLE001 - a seed that does not parse is simply not used structurally
        return None


def _dump(document: Any, rng: random.Random) -> bytes:
    if rng.random() < 0.5:
        return json.dumps(document, default=str).encode()
    from ruamel.yaml import YAML

    buffer = io.StringIO()
    YAML(typ="safe", pure=True).dump(document, buffer)
    return buffer.getvalue().encode()


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def _random_value(rng: random.Random) -> Any:
    return rng.choice([None, True, 0, -1, 10**30, 1.5, "", "x" * rng.randint(1, 300), "${{ inputs.x }}",
                       "${{ tasks['t'].OUTPUTS['n'] }}", "${{ ( }}", "0 8 ? * * *", [], {}, [1, [2, [3]]],
                       {"a": {"b": None}}, "PYTHON", "SFTP_GET_FILE", "v1", "\u2028", "\x00"])


def mutate_bytes(text: str, rng: random.Random) -> bytes:
    data = bytearray(text.encode())
    for _ in range(rng.randint(1, 8)):
        at = rng.randrange(len(data) + 1)
        action = rng.random()
        if action < 0.4:
            data[at:at] = rng.choice(SPECIAL)
        elif action < 0.7 and data:
            del data[at:at + rng.randint(1, 20)]
        elif data:
            data[min(at, len(data) - 1)] = rng.randrange(256)
    return bytes(data)


def mutate_lines(text: str, rng: random.Random) -> bytes:
    lines = text.splitlines()
    for _ in range(rng.randint(1, 4)):
        if not lines:
            break
        at = rng.randrange(len(lines))
        action = rng.choice(["duplicate", "delete", "indent", "dedent", "swap", "truncate"])
        if action == "duplicate":
            lines.insert(at, lines[at])
        elif action == "delete":
            del lines[at]
        elif action == "indent":
            lines[at] = "  " + lines[at]
        elif action == "dedent":
            lines[at] = lines[at][2:]
        elif action == "swap":
            other = rng.randrange(len(lines))
            lines[at], lines[other] = lines[other], lines[at]
        else:
            lines = lines[:at]
    return ("\n".join(lines) + "\n").encode()


def mutate_structure(text: str, rng: random.Random) -> bytes:
    from orchestra_local.errors import PipelineValidationError
    from orchestra_local.spec.limits import check_yaml_bounds

    try:
        check_yaml_bounds(text, None)  # the safe loader below would expand an alias bomb
    except PipelineValidationError:
        return mutate_bytes(text, rng)
    document = _plain(text)
    if not isinstance(document, dict):
        return mutate_bytes(text, rng)
    for _ in range(rng.randint(1, 4)):
        path = rng.choice(_paths(document))
        if not path:
            continue
        parent = document
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        action = rng.choice(["replace", "delete", "rename", "add", "copy"])
        if action == "replace":
            parent[last] = _random_value(rng)
        elif action == "delete" and isinstance(parent, dict):
            del parent[last]
        elif action == "rename" and isinstance(parent, dict):
            parent[rng.choice(["retrys", "dependsOn", "tasks", "matrix", "x" * 5, "set_outputs", "1"])] = parent.pop(last)
        elif action == "add" and isinstance(parent, dict):
            parent[rng.choice(["meta", "paused", "condition", "project_dir", "extra"])] = _random_value(rng)
        elif action == "copy" and isinstance(parent, dict):
            parent[f"{last}_copy"] = json.loads(json.dumps(parent[last], default=str))
    return _dump(document, rng)


def alias_bomb(rng: random.Random) -> bytes:
    levels, width = rng.randint(3, 10), rng.randint(2, 12)
    lines = ["version: v1", "name: alias bomb", "meta:", "  l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels):
        lines.append(f"  l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]")
    lines += ["pipeline:", "  g:", "    tasks:", f"      t: {TASK}"]
    return ("\n".join(lines) + "\n").encode()


def many_aliases(rng: random.Random) -> bytes:
    count = rng.choice([50, 100, 101, 500, 5000])
    items = ", ".join(["*v"] * count)
    return (f"version: v1\nname: aliases\nmeta: {{v: &v x, list: [{items}]}}\npipeline:\n  g:\n    tasks:\n"
            f"      t: {TASK}\n").encode()


def deep(rng: random.Random) -> bytes:
    depth = rng.choice([40, 63, 64, 65, 300, 1000, 20000])
    style = rng.choice(["flow_list", "flow_map", "block_map", "parameters"])
    if style == "flow_list":
        body = "meta:\n  x: " + "[" * depth + "]" * depth + "\n"
    elif style == "flow_map":
        body = "meta:\n  x: " + "{a: " * depth + "b" + "}" * depth + "\n"
    elif style == "block_map":
        levels = min(depth, 700)  # indentation grows with depth: 700 levels are already 0.5 MB
        body = "meta:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(levels)) + "  " * (levels + 1) + "end\n"
    else:
        nested = "{a: " * depth + "1" + "}" * depth
        return (f"version: v1\nname: deep\npipeline:\n  g:\n    tasks:\n      t: {{integration: FIVETRAN, "
                f"integration_job: FIVETRAN_SYNC_ALL, parameters: {{connector_id: c, x: {nested}}}}}\n").encode()
    return (f"version: v1\nname: deep\n{body}pipeline:\n  g:\n    tasks:\n      t: {TASK}\n").encode()


def huge_matrix(rng: random.Random) -> bytes:
    count = rng.choice([999, 1000, 1001, 5000, 19990, 200000])
    values = ", ".join(str(i) for i in range(count))
    return (f"version: v1\nname: matrix\npipeline:\n  g:\n    matrix:\n      inputs:\n        n: [{values}]\n"
            f"    tasks:\n      t: {TASK}\n").encode()


def huge_string(rng: random.Random) -> bytes:
    size = rng.choice([10_000, 100_000, 900_000, 2_000_000])
    where = rng.choice(["name", "command", "expression", "many_expressions", "key"])
    if where == "name":
        return (f"version: v1\nname: {'n' * size}\npipeline:\n  g:\n    tasks:\n      t: {TASK}\n").encode()
    if where == "command":
        value = "python x.py " + "a" * size
    elif where == "expression":
        value = "${{ " + "1 + " * (size // 4) + "1 }}"
    elif where == "many_expressions":
        value = "${{ inputs.x }} " * (size // 16)
    else:
        return (f"version: v1\nname: key\nmeta: {{{'k' * size}: 1}}\npipeline:\n  g:\n    tasks:\n      t: {TASK}\n").encode()
    return (f"version: v1\nname: string\ninputs: {{x: {{type: string, default: a}}}}\npipeline:\n  g:\n    tasks:\n"
            f"      t: {{integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, parameters: {{command: '{value}'}}}}\n"
            ).encode()


def wide(rng: random.Random) -> bytes:
    count = rng.choice([100, 1000, 3000, 10000])
    chain = rng.random() < 0.5
    tasks = "".join(f"      t{i}: {{integration: PYTHON, integration_job: PYTHON_EXECUTE_SCRIPT, parameters: "
                    f"{{command: python x.py}}{f', depends_on: [t{i - 1}]' if chain and i else ''}}}\n"
                    for i in range(count))
    return f"version: v1\nname: wide\npipeline:\n  g:\n    tasks:\n{tasks}".encode()


GENERATORS: dict[str, Callable[[random.Random], bytes]] = {
    "alias_bomb": alias_bomb, "many_aliases": many_aliases, "deep": deep, "huge_matrix": huge_matrix,
    "huge_string": huge_string, "wide": wide,
}
MUTATORS: dict[str, Callable[[str, random.Random], bytes]] = {
    "bytes": mutate_bytes, "lines": mutate_lines, "structure": mutate_structure,
}


def generate_cases(count: int, seed: int = 0) -> list[Case]:
    """``count`` cases: about 85% mutations of the seed files, the rest from the generators."""
    rng = random.Random(seed)
    seeds = [(path.stem, path.read_text(encoding="utf-8", errors="replace")) for path in SEEDS]
    cases = []
    for index in range(count):
        if index % 7 == 0:
            kind = list(GENERATORS)[(index // 7) % len(GENERATORS)]
            cases.append(Case(f"{index:05d}_{kind}", GENERATORS[kind](rng)))
        else:
            kind = rng.choice(list(MUTATORS))
            stem, text = rng.choice(seeds)
            cases.append(Case(f"{index:05d}_{kind}_{stem}", MUTATORS[kind](text, rng)))
    return cases


def write_cases(cases: list[Case], folder: Path) -> list[Path]:
    """Write each case as ``<name>.yml`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for case in cases:
        path = folder / f"{case.name}.yml"
        path.write_bytes(case.data)
        paths.append(path)
    return paths


def run_batch(paths: list[Path], check_agreement_every: int = 0) -> dict[str, Any]:
    """Validate each file as ``orchestra-local validate`` does.

    Generated cases (alias bombs, deep nesting, huge matrices and strings, wide groups: the ones that
    test the bounds) are each validated in a child forked for that file alone, so a case's peak
    memory is what ``orchestra-local validate FILE`` needs for it. Orchestra's validator is a
    GraalVM native library whose heap keeps garbage across calls, so in one process the peak after
    many large files says more about its collector than about any file. The mutations of real
    pipelines are validated one after another in this process, as ``validate`` does for a folder.

    Returns:
        ``{"cases": [{"name", "exit", "seconds", "cpu_seconds", "peak_rss_bytes", "isolated",
        "located", "message", "refused_but_orchestra_accepts"}], "peak_rss_bytes"}``; ``exit`` is 0
        (valid), 2 (invalid) or ``"crash"`` with the exception. An isolated case's
        ``peak_rss_bytes`` is its child's peak; an in-process case's is this process's peak so far
        (the case that raised it is the one that needed it). The top-level ``peak_rss_bytes`` is
        this process's peak, over the in-process cases only.
    """
    from orchestra_local.spec.loader import validate_file  # imported before forking: the children share it

    isolated = [path for path in paths if _generated(path)]
    in_process = [path for path in paths if not _generated(path)]
    results = {path: _isolated_case(path, bool(check_agreement_every)) for path in isolated}
    for index, path in enumerate(in_process):
        results[path] = _case(validate_file, path, check_agreement_every and index % check_agreement_every == 0)
    return {"cases": [results[path] for path in paths], "peak_rss_bytes": peak_rss_bytes()}


def _generated(path: Path) -> bool:
    return path.stem.split("_", 1)[-1] in GENERATORS


def _case(validate_file: Callable[[Path], Any], path: Path, check_agreement: bool) -> dict[str, Any]:
    """Validate one file in this process; the record ``run_batch`` documents."""
    from orchestra_local.errors import InvalidInputError, PipelineValidationError
    from orchestra_local.spec.orchestra_lang import orchestra_problems
    from orchestra_local.spec.yaml_source import parse_text

    started, cpu = time.perf_counter(), time.process_time()
    record: dict[str, Any] = {"name": path.name}
    refused = False  # by a validation problem, the refusals the agreement check compares
    try:
        validate_file(path)
        record.update(exit=0, located=True, message="")
    except PipelineValidationError as exc:
        refused = True
        located = bool(exc.problems) and all(p.file and p.line is not None for p in exc.problems)
        record.update(exit=2, located=located, message=exc.problems[0].human()[:300])
    except InvalidInputError as exc:
        record.update(exit=2, located=False, message=str(exc)[:300])
    except Exception as exc:  # noqa: BLE001 - what the fuzz test exists to find
        record.update(exit="crash", located=False, message=f"{type(exc).__name__}: {exc}"[:300])
    # What validate cost; the agreement check below is the test's own work (a second parse and a
    # second run of Orchestra's validator) and is not counted.
    record["seconds"] = round(time.perf_counter() - started, 4)
    record["cpu_seconds"] = round(time.process_time() - cpu, 4)
    record["peak_rss_bytes"] = peak_rss_bytes()
    record["isolated"] = False
    if check_agreement and refused:
        try:
            _, document = parse_text(path.read_bytes().decode("utf-8"), str(path))
        except (PipelineValidationError, UnicodeDecodeError):
            pass  # refused before any validator saw it (syntax, encoding, limits)
        else:
            record["refused_but_orchestra_accepts"] = not orchestra_problems(document)
    return record


def _isolated_case(path: Path, check_agreement: bool) -> dict[str, Any]:
    """Validate one file in a forked child whose peak memory starts from this process's size.

    Forks only while Orchestra's validator is not loaded here (its GraalVM runtime has threads a
    fork would not copy); the child loads it, as a fresh ``validate`` process does.
    """
    import os

    from orchestra_local.spec.loader import validate_file

    if "oml_lang" in sys.modules:
        raise RuntimeError("isolated cases must run before Orchestra's validator is loaded in this process")
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: reset the peak to the current size, validate, report, and never return
        try:
            os.close(reader)
            Path("/proc/self/clear_refs").write_text("5")
            record = _case(validate_file, path, check_agreement)
            record["isolated"] = True
            with os.fdopen(writer, "w") as sink:
                json.dump(record, sink)
        finally:
            os._exit(0)  # an error leaves no report: the parent records the case as a crash
    os.close(writer)
    with os.fdopen(reader) as source:
        report = source.read()
    _, status = os.waitpid(pid, 0)
    if report:
        return json.loads(report)
    return {"name": path.name, "exit": "crash", "located": False, "isolated": True, "seconds": 0.0,
            "cpu_seconds": 0.0, "peak_rss_bytes": 0, "message": f"child ended with status {status} and no report"}


def peak_rss_bytes() -> int:
    """Peak resident memory of this process's own program, in bytes.

    Linux: ``VmHWM`` of ``/proc/self/status``. ``getrusage``'s ``ru_maxrss`` would also count the
    memory of the parent this process was forked (vfork'd) from before it exec'd, i.e. a pytest
    process that has grown over a whole suite; ``VmHWM`` belongs to the exec'd program alone.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


def main() -> None:
    """Validate every ``*.yml`` of a folder and print the batch report as JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--check-agreement-every", type=int, default=0, metavar="N",
                        help="for every Nth refused case, also ask oml_lang whether it accepts the file")
    args = parser.parse_args()
    paths = sorted(args.folder.glob("*.yml"))
    json.dump(run_batch(paths, args.check_agreement_every), sys.stdout)


if __name__ == "__main__":
    main()
