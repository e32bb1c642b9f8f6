"""Masking of secret values before they reach logs, run metadata, outputs or error messages."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import Any

MASK = "***"
MIN_SECRET_LENGTH = 4
"""Shorter values are not masked: replacing every "a" or "1" would destroy the logs."""


class Masker:
    """Replaces every registered secret value with ``***``.

    Thread-safe: values can be added while tasks are logging.
    """

    def __init__(self, secrets: Iterable[str] = ()):
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()
        self.add(*secrets)

    def add(self, *values: str) -> None:
        """Register secret values (empty and very short values are ignored)."""
        fresh = {v for v in values if isinstance(v, str) and len(v) >= MIN_SECRET_LENGTH} - self._secrets
        if not fresh:
            return
        with self._lock:
            self._secrets |= fresh
            # Longest first, so a secret that contains another is masked whole.
            alternatives = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in alternatives))

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def mask(self, text: str) -> str:
        """Return ``text`` with every secret replaced by ``***``."""
        pattern = self._pattern
        return pattern.sub(MASK, text) if pattern is not None and text else text

    def mask_value(self, value: Any) -> Any:
        """Mask strings anywhere inside dicts, lists and tuples (keys included)."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, dict):
            return {self.mask_value(k): self.mask_value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.mask_value(v) for v in value)
        return value
