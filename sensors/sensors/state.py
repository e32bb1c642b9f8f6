"""What a sensor task remembers across its retries: its deadline and the run it triggered.

One small JSON document per sensor task run, at ``{state_dir}/{pipeline_run_id}/{task_run_id}.json``
(the ``ORCHESTRA_PIPELINE_RUN_ID`` and ``ORCHESTRA_TASK_RUN_ID`` Orchestra gives every task; a retry of
the task keeps both). ``state_dir`` is a local folder or any fsspec URL (``s3://bucket/sensor-state``)
so sensors running on different machines share it. Each write replaces the whole document
atomically: a local file is written beside the target and renamed over it; an object store's PUT is
atomic by itself. Without those two variables (a sensor run by hand) nothing is stored and every
invocation starts a fresh deadline.

Document shape (all times ISO 8601 UTC)::

    {"first_poke_at": "...", "deadline": "...",
     "met": {<the outputs of the poke that met the condition>},
     "trigger": {"pipeline": "alias-or-id", "intent_at": "...", "pipeline_run_id": "uuid-or-null"}}

``met`` lets a retry that follows a met condition (its trigger or its outputs failed) go straight
to what is left, even after the deadline.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem
from worker_kit.errors import ConfigError

logger = logging.getLogger("sensors")

DEFAULT_STATE_DIR = str(Path(tempfile.gettempdir()) / "orchestra-sensors")
"""Where state lives without ``--state-dir`` or ``SENSORS_STATE_DIR``: one machine only."""


class SensorState:
    """The stored document of one sensor task run (or an in-memory one when there is no key).

    Args:
        state_dir: Local folder or fsspec URL.
        environ: Where ``ORCHESTRA_PIPELINE_RUN_ID`` and ``ORCHESTRA_TASK_RUN_ID`` are read.

    Raises:
        ConfigError: ``state_dir`` names a protocol fsspec does not know (or whose package is missing).
    """

    def __init__(self, state_dir: str, environ: Mapping[str, str]) -> None:
        run_id = environ.get("ORCHESTRA_PIPELINE_RUN_ID", "").strip()
        task_run_id = environ.get("ORCHESTRA_TASK_RUN_ID", "").strip()
        self.document: dict[str, Any] = {}
        self._path: str | None = None
        if not (run_id and task_run_id):
            return
        for part in (run_id, task_run_id):
            if "/" in part or part in {".", ".."}:
                raise ConfigError(f"ORCHESTRA_PIPELINE_RUN_ID/ORCHESTRA_TASK_RUN_ID {part!r} is not a run id")
        try:
            self._fs, root = fsspec.core.url_to_fs(state_dir)
        except (ImportError, ValueError) as exc:
            raise ConfigError(f"--state-dir {state_dir!r}: {exc}") from None
        self._path = f"{root.rstrip('/')}/{run_id}/{task_run_id}.json"
        if self._fs.exists(self._path):
            with self._fs.open(self._path, "r") as stored:
                self.document = json.load(stored)

    @property
    def persistent(self) -> bool:
        """True when the document outlives this process (the task has run ids)."""
        return self._path is not None

    def save(self) -> None:
        """Write the whole document, atomically (see the module docstring); a no-op when not persistent."""
        if self._path is None:
            return
        payload = json.dumps(self.document, sort_keys=True).encode()
        if isinstance(self._fs, LocalFileSystem):
            folder = Path(self._path).parent
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".state-", delete=False) as tmp:
                tmp.write(payload)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp.name, self._path)
        else:
            self._fs.pipe_file(self._path, payload)
