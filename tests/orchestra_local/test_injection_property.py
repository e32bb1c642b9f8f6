"""Property test: a value substituted into a shell command arrives as exactly the data it was.

Every quoting context a command template can place a ``${{ }}`` in (bare, ``'...'``, ``"..."``,
``$( )``, ``"$( )"``, ``--x=VALUE``, an assignment, an unquoted here-document, one holding
``$( )``, backticks) is crossed with generated hostile payloads (``;``, ``|``, ``&&``, newlines,
both quotes, ``$( )``, backticks, backslashes, ``$VAR``, globs, comment signs, here-document
delimiters, NUL). Each finished command is run by a real ``bash`` and by ``/bin/sh`` (what the
runner itself runs), and a child script reports the argv it received. The property: either the
child received exactly the expected arguments, or the runner refused the placement with a located
``ShellPlacementError`` (only for NUL, backticks, a here-document's own delimiter line, and a
here-document holding ``$( )``); and no payload ever ran a command (neither the marker file its
``touch "$MARKER"`` would create nor any file in the shell's empty working directory appears).

14 contexts x 75 examples = 1,050 generated cases, plus 75 commands holding 2 to 4 values in
different contexts at once; each run by two shells (about 30 to 60 s on two busy cores).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestra_local.expressions import Namespace, Scope, substitute
from orchestra_local.shell import ShellPlacementError

EXAMPLES_PER_CONTEXT = 75
SHELLS = [path for path in (shutil.which("bash"), "/bin/sh") if path]
ECHO = "argv_echo"  # on PATH: prints each argument it received followed by a NUL byte
FRAGMENTS = [
    ";", "|", "&&", "||", "&", "\n", "\r", "\t", " ", "'", '"', "\\", "$", "`", "#", "*", "?", "[a]", "~", "{a,b}",
    "!", "%", "=", "(", ")", "<", ">", "EOF", "\nEOF\n", "$(", ")", "${IFS}", "$HOME", "$'\\x41'",
    '; touch "$MARKER"', '| touch "$MARKER"', '&& touch "$MARKER"', '\ntouch "$MARKER"\n', '$(touch "$MARKER")',
    '`touch "$MARKER"`', "'; touch \"$MARKER\"; '", '"; touch "$MARKER"; "', '\\"; touch "$MARKER" #',
    "'\"$(touch \"$MARKER\")\"'", "\nEOF\ntouch \"$MARKER\"\n", "; touch pwned", "$(touch pwned)", "\x00", "é", "日本",
]
payloads = st.lists(
    st.sampled_from(FRAGMENTS) | st.text(alphabet="ab -_./:,", max_size=4), max_size=8,
).map("".join)
sources = st.sampled_from(["inputs.x", "MATRIX.x", "ENV.X", "tasks['t'].OUTPUTS['x']"])


def _hex(value: str) -> str:
    return value.encode().hex()


@dataclass(frozen=True)
class Context:
    """A command template around ``{v}`` and the argv the echo child must receive for value ``v``."""

    template: str
    expected: Callable[[str], list[str]]
    refused: Callable[[str], bool] = lambda _v: False


CONTEXTS = {
    "bare": Context(ECHO + " {v}", lambda v: [v]),
    "bare-between-text": Context(ECHO + " pre{v}post x", lambda v: [f"pre{v}post", "x"]),
    "single-quotes": Context(ECHO + " 'a {v} b'", lambda v: [f"a {v} b"]),
    "double-quotes": Context(ECHO + ' "a {v} $FIXED"', lambda v: [f"a {v} fixed"]),
    "mixed-quotes": Context(ECHO + """ 'a'"{v}"'{v}'{v}""", lambda v: [f"a{v}{v}{v}"]),
    "option-equals": Context(ECHO + " --x={v} --y='{v}'", lambda v: [f"--x={v}", f"--y={v}"]),
    "assignment": Context('X={v} Y="{v}" sh -c \'' + ECHO + ' "$X" "$Y"\'', lambda v: [v, v]),
    "command-substitution": Context(ECHO + " $(printf %s {v} | od -An -tx1 | tr -d ' \\n')", lambda v: [_hex(v)] if v else []),
    "quoted-command-substitution": Context(
        ECHO + ' "$(printf %s {v})" "$(printf %s "{v}")" "$(printf %s \'{v}\')"', lambda v: [v.rstrip("\n")] * 3),
    "nested-substitution": Context(ECHO + ' "x$(printf %s "$(printf %s {v})")y"', lambda v: ["x" + v.rstrip("\n") + "y"]),
    "heredoc": Context("sh -c '" + ECHO + ' "$(cat)"\' <<EOF\n{v}\nEOF\n', lambda v: [v.rstrip("\n")],
                       refused=lambda v: "EOF" in v.split("\n")),
    "heredoc-in-substitution": Context(ECHO + ' "$(cat <<EOF\nx {v}\nEOF\n)"', lambda v: [("x " + v).rstrip("\n")],
                                       refused=lambda v: "EOF" in ("x " + v).split("\n")),
    "heredoc-with-substitution": Context("sh -c '" + ECHO + ' "$(cat)"\' <<EOF\n$(printf %s {v})\nEOF\n',
                                         lambda v: [v], refused=lambda _v: True),
    "backticks": Context(ECHO + " `printf %s {v}`", lambda v: [v], refused=lambda _v: True),
}


class OneTask:
    """A RunState with one finished task whose output ``x`` is the payload."""

    def __init__(self, value: str):
        self._value = value

    def task_view(self, task_id: str) -> Namespace:
        return Namespace(f"tasks['{task_id}']", {"STATUS": "SUCCEEDED", "OUTPUTS": {"x": self._value}})

    def group_statuses(self, group_id: str) -> list[str]:
        raise KeyError(group_id)


@pytest.fixture(scope="module")
def child(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for the shells: the echo child on PATH and the marker a payload would create."""
    folder = tmp_path_factory.mktemp("injection")
    script = folder / "bin" / ECHO
    script.parent.mkdir()
    script.write_text("#!/bin/sh\nfor a in \"$@\"; do printf '%s\\0' \"$a\"; done\n")
    script.chmod(0o755)
    (folder / "work").mkdir()  # the shells' working directory: must stay empty
    return {**os.environ, "PATH": f"{script.parent}:{os.environ['PATH']}", "MARKER": str(folder / "marker"),
            "WORK": str(folder / "work"),
            "FIXED": "fixed", "LC_ALL": "C.UTF-8"}


def _run(shell: str, command: str, env: dict[str, str]) -> list[str]:
    """Run ``command``; return the echo child's argv. Fails when any file appeared (a command ran)."""
    work = Path(env["WORK"])
    done = subprocess.run([shell, "-c", command], env=env, capture_output=True, timeout=20, cwd=work)
    created = [path.name for path in work.iterdir()] + ([env["MARKER"]] if Path(env["MARKER"]).exists() else [])
    assert not created, f"{shell} ran a payload command (created {created}): {command!r}"
    assert done.returncode == 0, (shell, command, done.stderr.decode(errors="replace"))
    return done.stdout.decode().split("\0")[:-1]


@pytest.mark.parametrize("name", CONTEXTS)
def test_payload_arrives_as_data_in_every_context(name: str, child: dict[str, str]) -> None:
    context = CONTEXTS[name]
    cases: list[str] = []

    @settings(max_examples=EXAMPLES_PER_CONTEXT, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(payload=payloads, source=sources)
    def check(payload: str, source: str) -> None:
        cases.append(payload)
        template = context.template.replace("{v}", "${{ " + source + " }}")
        scope = Scope(inputs={"x": payload}, matrix={"x": payload}, env={"X": payload}, run_state=OneTask(payload))
        where = "pipeline.g.tasks.t.parameters.command"
        if "\x00" in payload or context.refused(payload):
            with pytest.raises(ShellPlacementError) as refused:
                substitute(template, scope, where, shell=True)
            assert where in str(refused.value)
            return
        command = substitute(template, scope, where, shell=True)
        for shell in SHELLS:
            received = _run(shell, command, child)
            assert received == context.expected(payload), (shell, command)

    check()
    assert len(cases) >= EXAMPLES_PER_CONTEXT  # the documented 1,050 cases really ran


ARGUMENTS = [name for name, context in CONTEXTS.items()
             if context.template.startswith(ECHO + " ") and "\n" not in context.template and name != "backticks"]
"""Contexts that are arguments of the echo child, so several can share one command line."""


@settings(max_examples=EXAMPLES_PER_CONTEXT, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(parts=st.lists(st.tuples(st.sampled_from(ARGUMENTS), payloads), min_size=2, max_size=4))
def test_several_values_in_one_command_each_arrive_as_data(parts: list[tuple[str, str]], child: dict[str, str]) -> None:
    fragments = [CONTEXTS[name].template.removeprefix(ECHO + " ").replace("{v}", "${{ inputs.x" + str(index) + " }}")
                 for index, (name, _) in enumerate(parts)]
    inputs = {f"x{index}": payload for index, (_, payload) in enumerate(parts)}
    command_template = " ".join([ECHO, *fragments])
    where = "pipeline.g.tasks.t.parameters.command"
    if any("\x00" in payload for payload in inputs.values()):
        with pytest.raises(ShellPlacementError, match="NUL character"):
            substitute(command_template, Scope(inputs=inputs), where, shell=True)
        return
    command = substitute(command_template, Scope(inputs=inputs), where, shell=True)
    expected = [arg for name, payload in parts for arg in CONTEXTS[name].expected(payload)]
    for shell in SHELLS:
        assert _run(shell, command, child) == expected, (shell, command)


def test_both_shells_are_real() -> None:
    assert len(SHELLS) == 2, "bash and /bin/sh are both needed"
