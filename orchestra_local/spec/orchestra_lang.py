"""Orchestra's own validator, ``oml_lang`` (PyPI ``orchestra-lang``), as the source of its rules.

``oml_lang.analyze`` checks a document against the hosted platform's schema, per-integration
parameter models, cron, dependency and expression rules; its schema "warnings" are errors on the
hosted platform (the API answers 422), so every message it returns is a problem here. It reads
KSON (JSON is a subset): we give it the parsed YAML as positioned JSON and map each message's
position back to a YAML path, which the loader turns into a line of the user's file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from orchestra_local.errors import Problem
from orchestra_local.spec.json_positions import to_positioned_json
from orchestra_local.spec.validator_cache import Finding, cached_findings, store_findings

# Summary messages that only say "something below is wrong"; dropped when a precise one exists.
_UMBRELLAS = (
    re.compile(r"^Property '.*' must conform to "),
    re.compile(r"^Value must match at least one sub-schema$"),
)
_JSON_POSITION = re.compile(r"\s*\(\d+:\d+\)")


def _clean(message: str) -> str:
    """One line, without positions that refer to our intermediate JSON text."""
    text = _JSON_POSITION.sub("", message)
    lines = [line.strip(" -") for line in text.splitlines() if line.strip(" -")]
    lines = [line for line in lines if line != "JSON Object Schema:"]
    return "; ".join(lines)


def _is_umbrella(message: str) -> bool:
    return any(pattern.search(message) for pattern in _UMBRELLAS)


def orchestra_problems(document: dict[str, Any], cache_dir: Path | None = None) -> list[Problem]:
    """Every finding of Orchestra's validator on a parsed pipeline document.

    Args:
        document: The parsed YAML as plain data.
        cache_dir: Where verdicts are kept (``validator_cache.py``): a document this validator has
            already judged is answered from there without loading it. None: always run it.

    Returns:
        Problems located by YAML path (no file or line yet); ``type`` is ``orchestra_schema`` for
        schema findings (oml warnings) and ``orchestra_rule`` for dialect findings (oml errors).
    """
    positioned = to_positioned_json(document)
    findings = cached_findings(cache_dir, positioned.text) if cache_dir is not None else None
    if findings is None:
        import oml_lang  # a native library (about a second to load): only on a cache miss

        findings = []
        for message in oml_lang.analyze(positioned.text).errors():
            start = message.start()
            path = positioned.path_at(start.line(), start.column())
            kind = "orchestra_rule" if message.severity() == oml_lang.MessageSeverity.ERROR else "orchestra_schema"
            findings.append((path, kind, message.message()))
        if cache_dir is not None:
            store_findings(cache_dir, positioned.text, findings)
    return _problems(findings)


def _problems(findings: list[Finding]) -> list[Problem]:
    """The findings as problems, each umbrella message dropped when a precise one exists below it."""
    problems = []
    for path, kind, text in findings:
        if _is_umbrella(text) and any(
            other_path[: len(path)] == path and (other_path != path or not _is_umbrella(other_text))
            for other_path, _, other_text in findings
            if other_text is not text
        ):
            continue
        problems.append(Problem(loc=path, msg=_clean(text), type=kind))
    return problems

