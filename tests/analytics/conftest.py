"""A store with a generated run history (``analytics.sample_history``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from analytics.sample_history import Tally, write_history
from orchestra_local.store import RunStore


@dataclass
class History:
    """A generated history: the store's URL and what was written."""

    url: str
    tally: Tally


@pytest.fixture
def history(tmp_path: Path) -> History:
    """90 runs over the 20 days up to a minute ago, in a SQLite store of its own."""
    url = f"sqlite:///{tmp_path / 'history.db'}"
    store = RunStore(url)
    tally = write_history(store, 90, days=20, now=datetime.now(UTC) - timedelta(minutes=1))
    store.close()
    return History(url, tally)
