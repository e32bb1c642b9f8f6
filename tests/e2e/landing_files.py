"""Daily sales files for the landed-files demo (orchestra/landing_files_to_warehouse.yml), made by the tests.

Day ``n`` (1-based) holds orders ``(n-1)*ORDERS_PER_DAY + 1`` .. ``n*ORDERS_PER_DAY`` in two CSV files
and their lines (1 to 4 per order, a function of the key) in one Parquet file, under
``{root}/pending/sales/{ds}/``; the day's ack file ``{root}/pending/sales/{ds}.ack`` is written last.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ORDERS_PER_DAY = 250
FIRST_DAY = date(2026, 12, 5)


@dataclass(frozen=True)
class LandedDay:
    """What one day's files hold."""

    ds: str
    orders: int
    lines: int
    files: list[Path]


def lines_of(order_key: int) -> int:
    """How many lines an order has (1..4)."""
    return order_key % 4 + 1


def land_day(root: Path, day: int, *, ack: bool = True) -> LandedDay:
    """Write day ``day``'s two CSV files, one Parquet file and (``ack``) its ack file."""
    ds = (FIRST_DAY + timedelta(days=day - 1)).isoformat()
    folder = root / "pending" / "sales" / ds
    folder.mkdir(parents=True, exist_ok=True)
    keys = list(range((day - 1) * ORDERS_PER_DAY + 1, day * ORDERS_PER_DAY + 1))
    half = len(keys) // 2
    files = []
    for part, chunk in enumerate((keys[:half], keys[half:]), start=1):
        path = folder / f"orders-{part:04d}.csv"
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["o_orderkey", "o_custkey", "o_orderdate", "o_totalprice", "o_orderstatus"])
            for key in chunk:
                writer.writerow([key, key % 97 + 1, ds, f"{Decimal(key) * Decimal('10.25'):.2f}", "O"])
        files.append(path)
    rows = [(key, number, Decimal(number), Decimal(key) + Decimal("0.50"), Decimal("0.05"))
            for key in keys for number in range(1, lines_of(key) + 1)]
    decimal = pa.decimal128(15, 2)
    table = pa.table({
        "l_orderkey": pa.array([row[0] for row in rows], pa.int64()),
        "l_linenumber": pa.array([row[1] for row in rows], pa.int32()),
        "l_quantity": pa.array([row[2] for row in rows], decimal),
        "l_extendedprice": pa.array([row[3] for row in rows], decimal),
        "l_discount": pa.array([row[4] for row in rows], decimal),
    })
    path = folder / "lineitem-0001.parquet"
    pq.write_table(table, path)
    files.append(path)
    if ack:
        (root / "pending" / "sales" / f"{ds}.ack").write_text("")
    return LandedDay(ds, len(keys), len(rows), files)
