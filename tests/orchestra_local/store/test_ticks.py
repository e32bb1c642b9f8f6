"""Ticks: a fire time starts at most one run, in the run's own transaction, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from orchestra_local.errors import FireTimeClaimed
from orchestra_local.store import RunStore
from orchestra_local.store.repository import PIPELINE_RUNS
from orchestra_local.store.ticks import TICKS, TickOutcome, TriggerKind, claim, list_ticks, record_tick

FIRE = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
PIPELINE_ID = "11111111-2222-4333-8444-555555555555"
RUN = {"pipeline_id": PIPELINE_ID, "pipeline_name": "nightly", "pipeline_alias": "nightly", "yaml_path": "orchestra/nightly.yml"}


def _count(store: RunStore, table) -> int:
    return store.count(select(func.count()).select_from(table))


def test_a_fire_time_starts_one_run_and_a_second_claim_writes_nothing(metadata_url: str) -> None:
    store = RunStore(metadata_url)
    tick = claim(PIPELINE_ID, "nightly", TriggerKind.SCHEDULE, "every morning", FIRE)
    run_id = store.create_pipeline_run(tick=tick, **RUN)
    with pytest.raises(FireTimeClaimed, match="SCHEDULE 'every morning' of nightly at 2026-12-07T08:00:00"):
        store.create_pipeline_run(tick=tick, **RUN)
    assert _count(store, PIPELINE_RUNS) == 1 and _count(store, TICKS) == 1
    (row,) = list_ticks(store, PIPELINE_ID)
    assert (row["outcome"], row["pipeline_run_id"], row["scheduled_for"]) == ("STARTED", run_id, FIRE)
    assert record_tick(store, tick, TickOutcome.SKIPPED, "paused") is False  # evaluated once, whatever the outcome
    later = claim(PIPELINE_ID, "nightly", TriggerKind.SCHEDULE, "every morning", FIRE.replace(day=8))
    assert record_tick(store, later, TickOutcome.SKIPPED, "the pipeline is paused") is True
    assert [row["outcome"] for row in list_ticks(store)] == ["SKIPPED", "STARTED"]  # newest fire time first
    store.create_pipeline_run(tick=claim(PIPELINE_ID, "nightly", TriggerKind.SENSOR, "files_landed", FIRE), **RUN)
    assert _count(store, PIPELINE_RUNS) == 2  # another trigger's claim on the same minute is its own


def test_racing_schedulers_start_a_fire_time_once(metadata_url: str) -> None:
    stores = [RunStore(metadata_url) for _ in range(6)]  # one engine (its own connections) per "scheduler"
    tick = claim(PIPELINE_ID, "nightly", TriggerKind.SCHEDULE, "race", FIRE)
    barrier, started, refused = threading.Barrier(len(stores)), [], []

    def start(store: RunStore) -> None:
        barrier.wait()
        try:
            started.append(store.create_pipeline_run(tick=tick, **RUN))
        except FireTimeClaimed:
            refused.append(store)

    threads = [threading.Thread(target=start, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(started) == 1 and len(refused) == len(stores) - 1
    assert _count(stores[0], PIPELINE_RUNS) == 1 and list_ticks(stores[0])[0]["pipeline_run_id"] == started[0]
