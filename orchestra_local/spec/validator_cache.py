"""Findings of Orchestra's validator, kept on disk by the exact text it was given.

``oml_lang`` is a native image: loading it (its C header parsed by cffi, then the VM started) and
its first ``analyze`` cost about a second per process, which dominated ``orchestra-local validate``
and the start of every ``run``. Its verdict is a pure function of its input and of the installed
validator, so ``spec/orchestra_lang.py`` keeps each verdict under the state directory
(``<state>/cache/orchestra-validator/<sha256>.json``), keyed by

- the JSON text handed to the validator (the whole document: any change to the file is a new key);
- the identity of the installed ``orchestra-lang`` (size and modification time of its native
  library and of its Python entry point, found without importing it): an upgrade or a reinstall
  never reuses an older verdict.

A file that changed is therefore always validated by Orchestra's validator itself; only a document
it has already judged, with the same validator, is answered from the cache. An entry that cannot be
read (truncated, edited) counts as a miss. At most ``MAX_ENTRIES`` are kept: a write that finds more
removes the oldest half.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
from pathlib import Path

Finding = tuple[tuple[str | int, ...], str, str]
"""One message of the validator: (YAML path, ``orchestra_rule`` | ``orchestra_schema``, text)."""

MAX_ENTRIES = 2000
"""Most cached verdicts kept per state directory (each a few hundred bytes)."""

CACHE_FOLDER = Path("cache") / "orchestra-validator"
"""Where the verdicts live, relative to the state directory."""

_identity: str | None = None


def validator_identity() -> str | None:
    """What identifies the installed validator (file sizes and mtimes), or None if it is not found."""
    global _identity
    if _identity is None:
        spec = importlib.util.find_spec("oml_lang")
        if spec is None or spec.origin is None:
            return None
        package = Path(spec.origin).parent
        parts = []
        for file in (package / "__init__.py", *sorted((package / "_kson").glob("*.so")),
                     *sorted((package / "_kson").glob("*.dylib")), *sorted((package / "_kson").glob("*.dll"))):
            stat = file.stat()
            parts.append(f"{file.name}:{stat.st_size}:{stat.st_mtime_ns}")
        _identity = ";".join(parts)
    return _identity


def _entry(cache_dir: Path, text: str) -> Path | None:
    identity = validator_identity()
    if identity is None:
        return None
    digest = hashlib.sha256(f"{identity}\n{text}".encode()).hexdigest()
    return cache_dir / f"{digest}.json"


def cached_findings(cache_dir: Path, text: str) -> list[Finding] | None:
    """The validator's findings on ``text`` if this validator has judged exactly this text before.

    Args:
        cache_dir: The cache folder (``<state>/cache/orchestra-validator``).
        text: The JSON text the validator reads.

    Returns:
        The findings (possibly none), or None on a miss.
    """
    entry = _entry(cache_dir, text)
    if entry is None:
        return None
    try:
        raw = json.loads(entry.read_text(encoding="utf-8"))
        return [(tuple(path), str(kind), str(message)) for path, kind, message in raw]
    except (OSError, ValueError, TypeError):
        return None


def store_findings(cache_dir: Path, text: str, findings: list[Finding]) -> None:
    """Keep the validator's findings on ``text`` (atomically; a failure to write is ignored).

    Args:
        cache_dir: The cache folder (created if missing).
        text: The JSON text the validator read.
        findings: What it found.
    """
    entry = _entry(cache_dir, text)
    if entry is None:
        return
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        _prune(cache_dir)
        fd, temporary = tempfile.mkstemp(dir=cache_dir, prefix=".", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump([[list(path), kind, message] for path, kind, message in findings], out)
        os.replace(temporary, entry)
    except OSError:
        return  # a read-only state directory: validation still works, uncached


def _prune(cache_dir: Path) -> None:
    """Above ``MAX_ENTRIES``, remove the older half (by modification time)."""
    entries = [e for e in os.scandir(cache_dir) if e.name.endswith(".json")]
    if len(entries) < MAX_ENTRIES:
        return
    entries.sort(key=lambda e: e.stat().st_mtime_ns)
    for old in entries[: len(entries) // 2]:
        try:
            os.unlink(old.path)
        except OSError:
            continue
