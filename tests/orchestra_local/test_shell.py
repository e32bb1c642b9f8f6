"""Placing values in shell command lines: the context decides the quoting; unsafe shapes are refused.

The property test (test_injection_property.py) proves the quoting with real shells; these tables
pin the exact text produced for each context and the message of each refusal.
"""

from __future__ import annotations

import pytest

from orchestra_local.expressions import Scope, substitute
from orchestra_local.shell import ShellPlacementError, ShellValue, build_command

V = ShellValue("a b'c", "inputs.x")
WHERE = "pipeline.g.tasks.t.parameters.command"

PLACED = {
    "bare": (["python x.py ", V], """python x.py 'a b'"'"'c'"""),
    "option-equals": (["python x.py --x=", V], """python x.py --x='a b'"'"'c'"""),
    "single-quotes": (["python x.py 'v=", V, "'"], """python x.py 'v=a b'\\''c'"""),
    "double-quotes": (["python x.py \"", ShellValue('a"$`\\', "inputs.x"), "\""], 'python x.py "a\\"\\$\\`\\\\"'),
    "command-substitution-in-double-quotes": (['python x.py "$(printf %s ', V, ')"'],
                                              """python x.py "$(printf %s 'a b'"'"'c')\""""),
    "double-quotes-in-command-substitution": (['python x.py "$(printf %s "', ShellValue('a"b', "inputs.x"), '")"'],
                                              'python x.py "$(printf %s "a\\"b")"'),
    "assignment": (["X=", V, " python x.py"], """X='a b'"'"'c' python x.py"""),
    "heredoc": (["python - <<EOF\nprint('", ShellValue("$a`b\\", "inputs.x"), "')\nEOF\n"],
                "python - <<EOF\nprint('\\$a\\`b\\\\')\nEOF\n"),
    "single-quoted-dollar": (["python x.py '$", V, "'"], """python x.py '$a b'\\''c'"""),
    "after-a-parameter": (["python x.py $HOME/", V], """python x.py $HOME/'a b'"'"'c'"""),
    "literal-is-raw": (["python x.py ", ShellValue("--a --b", "'--a --b'", quote=False)], "python x.py --a --b"),
    "nothing-to-protect-is-not-parsed": (["python x.py $((1+", ShellValue("2", "2", quote=False), "))"],
                                         "python x.py $((1+2))"),
}


@pytest.mark.parametrize(("pieces", "expected"), PLACED.values(), ids=PLACED.keys())
def test_value_is_quoted_for_where_it_lands(pieces: list, expected: str) -> None:
    assert build_command(pieces, WHERE) == expected


REFUSED = {
    "backticks": (["python x.py `printf %s ", V, "`"], "inside backticks (write $( ) there)"),
    "comment": (["python x.py # ", V], "in a shell comment"),
    "after-dollar": (["python x.py $", V], "right after '$'"),
    "after-backslash": (["python x.py \\", V], "right after a backslash"),
    "parameter-default": (["python x.py ${X:-", V, "}"], "inside a parameter expansion"),
    "tilde": (["python x.py ~", V], "right after '~'"),
    "ansi-c-quotes": (["python x.py $'", V, "'"], "inside $'...'"),
    # bashlex reads a'$( ... )' as a command substitution; the shell reads text.
    "single-quoted-substitution-misread-by-bashlex": (["python x.py a'$(", V, ")'"], "in single quotes after a '$'"),
    "heredoc-with-substitution": (["python - <<EOF\n$(printf %s ", V, ")\nEOF\n"], "here-document that also holds"),
    "heredoc-after-backslash": (["python - <<EOF\nx\\", V, "\nEOF\n"], "right after '$' or a backslash"),
    "tab-stripping-heredoc": (["python - <<-EOF\n", V, "\nEOF\n"], "'<<-' here-document"),
    "unparsable-command": (["python x.py $((1+", V, "))"], "cannot be read by the shell parser"),
    "nul": (["python x.py ", ShellValue("a\x00b", "inputs.x")], "NUL character, which no command line can carry"),
    "heredoc-delimiter-line": (["python - <<EOF\n", ShellValue("x\nEOF\nrm -rf ~", "inputs.x"), "\nEOF\n"],
                               "would end the here-document early (a line 'EOF')"),
}


@pytest.mark.parametrize(("pieces", "fragment"), REFUSED.values(), ids=REFUSED.keys())
def test_unsafe_placements_are_refused_with_a_located_error(pieces: list, fragment: str) -> None:
    with pytest.raises(ShellPlacementError) as caught:
        build_command(pieces, WHERE)
    message = str(caught.value)
    assert fragment in message and WHERE in message and "${{ inputs.x }}" in message
    assert "pass the value as a plain argument" in message or "remove it from the value" in message


class Outputs:
    def task_view(self, task_id: str):
        from orchestra_local.expressions import Namespace

        return Namespace("tasks['t']", {"OUTPUTS": {"x": "a;b"}})

    def group_statuses(self, group_id: str) -> list[str]:
        raise KeyError(group_id)


@pytest.mark.parametrize("expression", [
    "inputs.x", "MATRIX.x", "ENV.X", "env.X", "secrets.X", "tasks['t'].OUTPUTS['x']",
    "ORCHESTRA.PIPELINE_RUN_TASKS['t'].OUTPUTS['x']", "inputs.x if true else 'lit'",
])
def test_every_value_read_from_a_namespace_is_quoted(expression: str) -> None:
    scope = Scope(inputs={"x": "a;b"}, matrix={"x": "a;b"}, env={"X": "a;b"}, secrets={"X": "a;b"},
                  run_state=Outputs())
    assert substitute("python x.py ${{ " + expression + " }}", scope, WHERE, shell=True) == "python x.py 'a;b'"


def test_a_literal_from_the_pipeline_file_is_spliced_raw() -> None:
    assert substitute("python x.py ${{ '--a --b' }} ${{ 1 + 1 }}", Scope(), WHERE, shell=True) == "python x.py --a --b 2"
