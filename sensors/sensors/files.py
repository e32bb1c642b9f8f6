"""The ``files`` sensor: starlake's pre-load strategies for one domain of a datasets root.

starlake lays a datasets root out as ``{root}/importing/{domain}`` (the landing area files arrive
in), ``{root}/pending/{domain}`` (files waiting to be loaded) and ``{root}/archive/{domain}``, and
decides before a domain's load whether there is anything to load (its ``pre_load_strategy``):

| strategy | met when |
|---|---|
| ``none`` | always (load without checking) |
| ``imported`` | at least one file in ``{root}/importing/{domain}`` |
| ``pending`` | at least one file in ``{root}/pending/{domain}`` |
| ``ack`` | the ack file exists: ``--ack-file``, default ``{root}/pending/{domain}/{ds}.ack`` |

With ``--tables``, only files whose name starts with one of the tables count. Hidden files
(``.x``, ``_x``) and ``.ack`` files never count. ``root`` is a local path or any fsspec URL
(``s3://``, ``gs://``, ``az://``, with that protocol's package installed; S3 credentials and
``AWS_ENDPOINT_URL`` come from the environment as for any AWS client). Every poke lists afresh
(fsspec's listing cache is dropped), so a file that lands is seen at the next poke.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass

import fsspec
from fsspec.implementations.local import LocalFileSystem
from worker_kit.errors import ConfigError, TransientError, UsageError

from sensors.poke import Poke

STRATEGIES = ("none", "imported", "pending", "ack")
AREA_OF_STRATEGY = {"imported": "importing", "pending": "pending"}


@dataclass(frozen=True)
class FilesCheck:
    """One pre-load check of a domain (a :data:`sensors.poke.Check`).

    Args:
        root: Datasets root, local path or fsspec URL.
        domain: The domain (a folder name under each area).
        strategy: One of :data:`STRATEGIES`.
        tables: Table-name prefixes a counted file must start with; empty counts every file.
        ack_file: Ack path template (``{root}``, ``{domain}``, ``{ds}``), for ``ack``.
        ds: The logical date the ack file is named after (``2026-12-06``), for ``ack``.

    Raises:
        UsageError: An unknown strategy, or ``ack`` whose ack file needs ``{ds}`` without ``--ds``.
        ConfigError: fsspec does not know the root's protocol (or its package is not installed).
    """

    root: str
    domain: str
    strategy: str
    tables: Sequence[str] = ()
    ack_file: str | None = None
    ds: str | None = None

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise UsageError(f"--strategy {self.strategy!r}: use one of {', '.join(STRATEGIES)}")
        if not self.domain or "/" in self.domain:
            raise UsageError(f"--domain {self.domain!r}: give one folder name, e.g. sales")
        if self.strategy == "ack" and "{ds}" in self.ack_template and not self.ds:
            raise UsageError("--strategy ack: the ack file is named after the logical date; pass --ds "
                             "(e.g. --ds ${{ inputs.ds }}) or an --ack-file without {ds}")
        try:
            fs, _ = fsspec.core.url_to_fs(self.root)
        except (ImportError, ValueError) as exc:
            raise ConfigError(f"--root {self.root!r}: {exc}") from None
        object.__setattr__(self, "_fs", fs)

    @property
    def ack_template(self) -> str:
        """The ack path before substitution."""
        return self.ack_file or "{root}/pending/{domain}/{ds}.ack"

    def area(self, strategy: str | None = None) -> str:
        """URL of the folder the strategy lists (``{root}/pending/{domain}`` for ``pending`` and ``ack``)."""
        name = AREA_OF_STRATEGY.get(strategy or self.strategy, "pending")
        return f"{self.root.rstrip('/')}/{name}/{self.domain}"

    def ack_path(self) -> str:
        """The ack file's URL, placeholders filled."""
        return self.ack_template.format(root=self.root.rstrip("/"), domain=self.domain, ds=self.ds or "")

    def __call__(self) -> Poke:
        """Poke once; see the module docstring for what each strategy needs."""
        fs = self._fs  # type: ignore[attr-defined]
        fs.invalidate_cache()
        base = {"strategy": self.strategy, "domain": self.domain}
        try:
            if self.strategy == "none":
                return Poke(True, "strategy none: load without checking", {**base, "files": [], "file_count": 0})
            if self.strategy == "ack":
                ack = self.ack_path()
                if not fs.exists(_strip(fs, ack)):
                    return Poke(False, f"no ack file {ack}")
                files = self._files(fs, self.area("pending"))
                return Poke(True, f"ack file {ack}; {len(files)} file(s) pending",
                            {**base, "ack_file": ack, "files": files, "file_count": len(files)})
            area = self.area()
            files = self._files(fs, area)
            if not files:
                return Poke(False, f"no file in {area}" + (f" for tables {', '.join(self.tables)}" if self.tables else ""))
            return Poke(True, f"{len(files)} file(s) in {area}", {**base, "files": files, "file_count": len(files)})
        except (OSError, TimeoutError) as exc:  # the store is unreachable; PermissionError is an OSError too
            if isinstance(exc, PermissionError):
                raise ConfigError(f"{self.root}: access denied ({exc}); check the credentials") from None
            raise TransientError(f"{self.root}: {type(exc).__name__}: {exc}") from None

    def _files(self, fs: fsspec.AbstractFileSystem, area: str) -> list[str]:
        """Countable files under ``area`` (recursive), sorted, as URLs of the root's protocol."""
        folder = _strip(fs, area)
        if not fs.exists(folder):
            return []
        found = []
        for path in fs.find(folder):
            name = posixpath.basename(path)
            if name.startswith((".", "_")) or name.endswith(".ack"):
                continue
            if self.tables and not name.startswith(tuple(self.tables)):
                continue
            found.append(path if isinstance(fs, LocalFileSystem) else fs.unstrip_protocol(path))
        return sorted(found)


def _strip(fs: fsspec.AbstractFileSystem, url: str) -> str:
    """The path fsspec's methods take for ``url`` (no protocol)."""
    return fs._strip_protocol(url)
