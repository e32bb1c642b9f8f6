"""Incremental loads on SystemModstamp: updates merged, late records caught by the lookback,
deletions recorded as IsDeleted = true, and a re-run without source changes changes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import SalesforceOrg

INCREMENTAL = ("--object", "Account", "--incremental-cursor", "SystemModstamp")


@pytest.mark.parametrize("api", ["rest", "bulk"])
def test_incremental_runs_merge_changes_and_record_deletions(org: SalesforceOrg, api: str) -> None:
    first = org.ingest(*INCREMENTAL, "--api", api)
    assert first.returncode == 0, first.stderr
    assert first.summary["rows_written"] == 1000

    updated, deleted = org.store.ids("Account")[:3], org.store.ids("Account")[10:12]
    for number, record_id in enumerate(updated):
        org.store.update("Account", record_id, {"Name": f"Renamed {number}", "AnnualRevenue": Decimal(number)})
    for record_id in deleted:
        org.store.delete("Account", record_id)
    added = [org.store.insert("Account", {"Name": f"New {n}", "Rating": "Hot"}) for n in range(2)]

    second = org.ingest(*INCREMENTAL, "--api", api)

    assert second.returncode == 0, second.stderr
    assert second.summary["rows_written"] == 7
    rows = org.table("raw.Account", exclude="_loaded_at")
    assert rows == org.store.rows("Account")  # one row per Id, latest values, deleted ones kept
    by_id = {row["Id"]: row for row in rows}
    assert [by_id[i]["Name"] for i in updated] == ["Renamed 0", "Renamed 1", "Renamed 2"]
    assert all(by_id[i]["IsDeleted"] for i in deleted)
    assert all(i in by_id for i in added)
    assert second.summary["watermark"] == max(r["SystemModstamp"] for r in org.store.rows("Account")).isoformat()


def test_lookback_catches_a_late_record_and_a_rerun_changes_nothing(org: SalesforceOrg) -> None:
    # REST only: the SOQL bound is built the same way for both APIs (Bulk is covered above).
    assert org.ingest(*INCREMENTAL).returncode == 0
    org.store.update("Account", org.store.ids("Account")[0], {"Rating": "Cold"})
    second = org.ingest(*INCREMENTAL)
    watermark = dt.datetime.fromisoformat(str(second.summary["watermark"]))
    # Committed after the last run, but stamped two minutes before its watermark.
    late = org.store.insert("Account", {"Name": "Late"}, modstamp=watermark - dt.timedelta(minutes=2))

    without_lookback = org.ingest(*INCREMENTAL)
    with_lookback = org.ingest(*INCREMENTAL, "--lookback-minutes", "5")

    assert without_lookback.returncode == with_lookback.returncode == 0, with_lookback.stderr
    assert without_lookback.summary["rows_written"] == 0
    assert with_lookback.summary["rows_written"] == 1
    assert late in {row["Id"] for row in org.table("raw.Account")}
    assert org.table("raw.Account", exclude="_loaded_at") == org.store.rows("Account")

    before = org.table("raw.Account")
    state_before = org.query("SELECT * FROM raw._ingest_state ORDER BY ALL")
    rerun = org.ingest(*INCREMENTAL, "--lookback-minutes", "5")

    assert rerun.returncode == 0, rerun.stderr
    assert rerun.summary["rows_read"] >= 2  # the lookback window is read again ...
    assert rerun.summary["rows_written"] == 0  # ... and changes nothing
    assert org.table("raw.Account") == before  # _loaded_at included
    assert [row[:3] for row in org.query("SELECT * FROM raw._ingest_state ORDER BY ALL")] == [
        row[:3] for row in state_before
    ]


def test_window_keeps_its_bounds_despite_the_lookback_and_stores_no_watermark(org: SalesforceOrg) -> None:
    # SOQL carries only the lower bound, lowered by the lookback; the worker applies the window.
    start = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    end = dt.datetime(2020, 1, 2, tzinfo=dt.UTC)
    ids = org.store.ids("Account")[:4]
    stamps = [start, end, start - dt.timedelta(minutes=2), end + dt.timedelta(minutes=2)]
    for record_id, stamp in zip(ids, stamps, strict=True):
        org.store.update("Account", record_id, {"Rating": "Warm"}, modstamp=stamp)
    window = ("--initial-value", start.isoformat(), "--end-value", end.isoformat())

    run = org.ingest(*INCREMENTAL, *window, "--lookback-minutes", "5")

    assert run.returncode == 0, run.stderr
    assert (run.summary["rows_written"], run.summary["watermark"]) == (2, None)
    assert sorted(row["Id"] for row in org.table("raw.Account")) == sorted(ids[:2])
    assert org.query("SELECT count(*) FROM duckdb_tables() WHERE table_name = '_ingest_state'") == [(0,)]
