"""Move loaded files from a domain's pending area to its archive, once their load has committed.

starlake's datasets layout: files wait in ``{root}/pending/{domain}/...`` and move to
``{root}/archive/{domain}/...`` (same relative path) after they were loaded. Run this as the task
after the load (``orchestra/landing_files_to_warehouse.yml``), with the load's ``files`` output: a
crash between the load and this step leaves the files pending, so the next run loads them again
(a ``merge`` load, so they replace their own rows) and archives them then; a re-run after this
step finds nothing pending and loads nothing. Only the files the load read are moved: a file that
landed during the load stays pending for the next run.

examples:
  LOADED_FILES='["file:///data/datasets/pending/sales/2026-12-06/orders-0001.csv"]' \\
      python archive_files.py --root /data/datasets --domain sales
  python archive_files.py --root s3://lake/datasets --domain sales --ack-ds 2026-12-06

Paths are local or any fsspec URL. The last stdout line is a JSON summary: ``archived`` (URLs
moved), ``already_archived`` (files a retried step had moved before) and ``ack_file`` (moved, or null).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileSystem
from pipeline_cli import UsageError, add_common_flags, run_cli

log = logging.getLogger(__name__)


class ArchiveError(RuntimeError):
    """A listed file is neither pending nor archived: something else moved or deleted it."""


def build_parser() -> argparse.ArgumentParser:
    """The command line of this script (see the module docstring for examples)."""
    parser = argparse.ArgumentParser(
        description="Move loaded files from {root}/pending/{domain} to {root}/archive/{domain}.",
        epilog="examples:" + __doc__.split("examples:", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--root", required=True, help="datasets root: local path or fsspec URL")
    parser.add_argument("--domain", required=True, help="the domain (folder) whose files moved through the load")
    parser.add_argument("--files-env", default="LOADED_FILES",
                        help="NAME of the variable holding the JSON list of file URLs the load read "
                             "(default %(default)s; unset or empty: no data files)")
    parser.add_argument("--ack-ds", help="also archive the domain's ack file {root}/pending/{domain}/{ds}.ack")
    add_common_flags(parser)
    return parser


def archive(args: argparse.Namespace) -> Mapping[str, object]:
    """Move the listed files (and the ack file) from pending to archive.

    Args:
        args: Parsed command line of :func:`build_parser`.

    Returns:
        ``{"archived": [url, ...], "already_archived": int, "ack_file": url | None}``.

    Raises:
        UsageError: The variable does not hold a JSON list, or a file lies outside the domain's pending area.
        ArchiveError: A listed file is neither pending nor archived.
    """
    if not args.domain or "/" in args.domain:
        raise UsageError(f"--domain {args.domain!r}: give one folder name, e.g. sales")
    root = args.root if "://" in args.root else str(Path(args.root).expanduser().resolve())
    fs, root_path = fsspec.core.url_to_fs(root)
    pending = f"{root_path.rstrip('/')}/pending/{args.domain}"
    archive_dir = f"{root_path.rstrip('/')}/archive/{args.domain}"
    moved: list[str] = []
    already = 0
    for url in _listed_files(args.files_env):
        path = fsspec.core.url_to_fs(url)[1]
        if not path.startswith(pending + "/"):
            raise UsageError(f"{url} is not under the pending area {pending} of domain {args.domain}")
        target = archive_dir + path[len(pending):]
        if _move(fs, path, target):
            moved.append(_url(fs, target))
        else:
            already += 1
    ack_file = None
    if args.ack_ds:
        ack = f"{pending}/{args.ack_ds}.ack"
        if fs.exists(ack) and _move(fs, ack, f"{archive_dir}/{args.ack_ds}.ack"):
            ack_file = _url(fs, f"{archive_dir}/{args.ack_ds}.ack")
    log.info("archived %d file(s) to %s (%d already there)", len(moved), archive_dir, already)
    return {"archived": moved, "already_archived": already, "ack_file": ack_file}


def _listed_files(variable: str) -> list[str]:
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return []
    try:
        files = json.loads(raw)
    except ValueError:
        files = None
    if not isinstance(files, list) or not all(isinstance(item, str) for item in files):
        raise UsageError(f"{variable} must hold a JSON list of file URLs (the load's files output)")
    return files


def _move(fs: fsspec.AbstractFileSystem, source: str, target: str) -> bool:
    """Move one file; False when a retried step had already moved it.

    Raises:
        ArchiveError: The file is in neither place.
    """
    if not fs.exists(source):
        if fs.exists(target):
            return False
        raise ArchiveError(f"{source} is neither pending nor archived at {target}: was it moved or deleted?")
    fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
    fs.mv(source, target)  # a rename on a local disk; copy then delete on an object store
    return True


def _url(fs: fsspec.AbstractFileSystem, path: str) -> str:
    return path if isinstance(fs, LocalFileSystem) else fs.unstrip_protocol(path)


if __name__ == "__main__":
    sys.exit(run_cli(build_parser(), archive))
