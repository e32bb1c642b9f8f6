"""Pools: slots, shared claims, exclusion across threads and processes, crash release, cancellation."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from orchestra_local.engine.pools import Holder, PoolClaim, PoolSet, PoolWaitCancelled, holders, merge_claims
from orchestra_local.errors import InvalidInputError
from orchestra_local.settings import resolve_settings

REPO_ROOT = Path(__file__).resolve().parents[3]

# Holds one pool in a separate process: writes `marker` once it holds, then sleeps; prints when it let go.
HOLDER_SCRIPT = textwrap.dedent("""
    import sys, threading, time
    from pathlib import Path
    from orchestra_local.engine.pools import Holder, PoolClaim, PoolSet
    folder, name, seconds, marker = sys.argv[1:5]
    claim = PoolClaim(name)
    with PoolSet(Path(folder)).hold([claim], Holder("run-child", "tr-child", "child_task"),
                                    cancelled=threading.Event(), on_wait=lambda c, h: None):
        Path(marker).write_text(str(time.time()))
        time.sleep(float(seconds))
        released = time.time()
    print(released)
""")


def holder(task: str) -> Holder:
    return Holder("run-1", f"tr-{task}", task)


class Reports:
    """Collects what a waiting claimant reports."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[Holder]]] = []

    def __call__(self, claim: PoolClaim, found: list[Holder]) -> None:
        self.calls.append((claim.name, found))


def start_holder(pools: PoolSet, name: str, seconds: float, tmp_path: Path) -> tuple[subprocess.Popen[str], Path]:
    marker = tmp_path / f"held-{time.monotonic_ns()}"
    child = subprocess.Popen([sys.executable, "-c", HOLDER_SCRIPT, str(pools.folder), name, str(seconds), str(marker)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT)
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert child.poll() is None, child.stderr.read() if child.stderr else "holder exited"
        assert time.monotonic() < deadline, "the holder process never took the pool"
        time.sleep(0.02)
    return child, marker


def test_a_pool_of_two_slots_runs_two_holders_at_once_and_the_third_waits(tmp_path: Path) -> None:
    pools = PoolSet(tmp_path / "pools")
    claim = PoolClaim("api_quota", slots=2)
    inside = 0
    most = 0
    lock = threading.Lock()
    reports = Reports()

    def work(task: str) -> None:
        nonlocal inside, most
        with pools.hold([claim], holder(task), cancelled=threading.Event(), on_wait=reports):
            with lock:
                inside += 1
                most = max(most, inside)
            time.sleep(0.4)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=work, args=(f"t{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert most == 2
    assert reports.calls, "the third claimant never reported waiting"
    name, found = reports.calls[0]
    assert name == "api_quota" and len(found) == 2 and {h.task for h in found} < {"t0", "t1", "t2"}
    assert holders(pools.folder_of("api_quota")) == []  # every record is gone once released


def test_shared_claims_hold_together_and_an_exclusive_one_waits_for_all_of_them(tmp_path: Path) -> None:
    pools = PoolSet(tmp_path / "pools")
    shared, exclusive = PoolClaim("duckdb:/w", shared=True), PoolClaim("duckdb:/w")
    events: list[str] = []
    both_in = threading.Barrier(2, timeout=5)

    def reader(task: str) -> None:
        with pools.hold([shared], holder(task), cancelled=threading.Event(), on_wait=Reports()):
            both_in.wait()  # fails unless both shared holders are inside at once
            time.sleep(0.3)
            events.append(f"{task} out")

    readers = [threading.Thread(target=reader, args=(f"r{i}",)) for i in range(2)]
    for thread in readers:
        thread.start()
    time.sleep(0.1)
    reports = Reports()
    with pools.hold([exclusive], holder("writer"), cancelled=threading.Event(), on_wait=reports):
        events.append("writer in")
    for thread in readers:
        thread.join(timeout=5)
    assert events[-1] == "writer in" and sorted(events[:2]) == ["r0 out", "r1 out"]
    assert {h.task for h in reports.calls[0][1]} == {"r0", "r1"} and all(h.shared for h in reports.calls[0][1])


def test_a_waiting_exclusive_claim_goes_before_shared_claims_that_come_after_it(tmp_path: Path) -> None:
    pools = PoolSet(tmp_path / "pools")
    shared, exclusive = PoolClaim("p", shared=True), PoolClaim("p")
    order: list[str] = []
    release_first = threading.Event()

    def first_reader() -> None:
        with pools.hold([shared], holder("r0"), cancelled=threading.Event(), on_wait=Reports()):
            release_first.wait(5)

    def writer() -> None:
        with pools.hold([exclusive], holder("w"), cancelled=threading.Event(), on_wait=Reports()):
            order.append("w")
            time.sleep(0.2)

    def late_reader() -> None:
        with pools.hold([shared], holder("r1"), cancelled=threading.Event(), on_wait=Reports()):
            order.append("r1")

    threads = [threading.Thread(target=first_reader)]
    threads[0].start()
    time.sleep(0.1)
    threads.append(threading.Thread(target=writer))
    threads[1].start()
    time.sleep(0.3)  # the writer now waits, holding the gate
    threads.append(threading.Thread(target=late_reader))
    threads[2].start()
    time.sleep(0.3)
    assert order == []  # the late reader does not slip in beside the first one
    release_first.set()
    for thread in threads:
        thread.join(timeout=5)
    assert order == ["w", "r1"]


def test_another_process_waits_until_the_holder_lets_go_and_names_it(tmp_path: Path) -> None:
    pools = PoolSet(tmp_path / "pools")
    child, _ = start_holder(pools, "duckdb:/x/warehouse.duckdb", 1.0, tmp_path)
    reports = Reports()
    with pools.hold([PoolClaim("duckdb:/x/warehouse.duckdb")], holder("mine"), cancelled=threading.Event(),
                    on_wait=reports):
        acquired = time.time()
    out, err = child.communicate(timeout=30)
    assert child.returncode == 0, err
    assert acquired >= float(out.strip())
    assert reports.calls[0][1] == [Holder("run-child", "tr-child", "child_task")]


def test_a_killed_holder_releases_its_pool_and_its_record(tmp_path: Path) -> None:
    pools = PoolSet(tmp_path / "pools")
    child, _ = start_holder(pools, "p", 120, tmp_path)
    assert [h.task for h in pools.holders_of("p")] == ["child_task"]
    threading.Timer(0.5, lambda: os.kill(child.pid, signal.SIGKILL)).start()
    reports = Reports()
    started = time.monotonic()
    with pools.hold([PoolClaim("p")], holder("mine"), cancelled=threading.Event(), on_wait=reports):
        waited = time.monotonic() - started
        assert [h.task for h in pools.holders_of("p")] == ["mine"]  # the dead holder's record was removed
    child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    assert 0.4 < waited < 5 and reports.calls


def test_cancelling_a_waiter_ends_its_wait_and_leaves_nothing_held(tmp_path: Path) -> None:
    pools = PoolSet(tmp_path / "pools")
    child, _ = start_holder(pools, "p", 120, tmp_path)
    try:
        cancelled = threading.Event()
        threading.Timer(0.3, cancelled.set).start()
        started = time.monotonic()
        claims = [PoolClaim("other"), PoolClaim("p")]
        with (pytest.raises(PoolWaitCancelled, match="cancelled while waiting for pool p"),
              pools.hold(claims, holder("mine"), cancelled=cancelled, on_wait=Reports())):
            pytest.fail("acquired a pool another process holds")
        assert time.monotonic() - started < 2
        # "other" (taken first, in name order) was released: a new claimant gets it at once.
        never = Reports()
        with pools.hold([PoolClaim("other")], holder("next"), cancelled=threading.Event(), on_wait=never):
            pass
        assert never.calls == []
    finally:
        child.kill()
        child.wait(timeout=10)


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        pytest.param([PoolClaim("b"), PoolClaim("a")], [PoolClaim("a"), PoolClaim("b")], id="sorted-by-name"),
        pytest.param([PoolClaim("a", shared=True, reason="x"), PoolClaim("a", reason="y")],
                     [PoolClaim("a", reason="x; y")], id="exclusive-wins"),
        pytest.param([PoolClaim("a", shared=True, reason="x"), PoolClaim("a", shared=True, reason="x")],
                     [PoolClaim("a", shared=True, reason="x")], id="same-shared-claim-once"),
        pytest.param([PoolClaim("a", shared=True), PoolClaim("a", slots=3)], [PoolClaim("a", slots=3)],
                     id="more-slots-from-settings-make-it-exclusive"),
    ],
)
def test_merge_claims(claims: list[PoolClaim], expected: list[PoolClaim]) -> None:
    assert merge_claims(claims) == expected


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        pytest.param({"name": ""}, "a pool needs a name", id="empty-name"),
        pytest.param({"name": "p", "slots": 0}, "slots must be at least 1", id="no-slots"),
        pytest.param({"name": "p", "slots": 2, "shared": True}, "only a pool of one slot", id="shared-on-many"),
    ],
)
def test_invalid_claims(kwargs: dict[str, object], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        PoolClaim(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(None, {}, id="no-file"),
        pytest.param("pools: {api_quota: 2, 'duckdb:/w': 1}\n", {"api_quota": 2, "duckdb:/w": 1}, id="map"),
        pytest.param("pools: {}\n", {}, id="empty-map"),
    ],
)
def test_pools_file(tmp_path: Path, text: str | None, expected: dict[str, int]) -> None:
    state = tmp_path / "state"
    state.mkdir()
    if text is not None:
        (state / "pools.yml").write_text(text)
    assert resolve_settings(None, state_dir=state).pool_slots == expected


@pytest.mark.parametrize(
    ("text", "error"),
    [
        pytest.param("api_quota: 2\n", "expected `pools:", id="no-pools-key"),
        pytest.param("pools: [a, b]\n", "expected `pools:", id="list"),
        pytest.param("pools: {a: 0}\n", "pools.a: slots must be a whole number from 1 to 1000", id="zero"),
        pytest.param("pools: {a: two}\n", "pools.a: slots must be a whole number", id="text"),
        pytest.param("pools: {a: true}\n", "pools.a: slots must be a whole number", id="boolean"),
        pytest.param("pools: {a: [1\n", "cannot read the pools file", id="bad-yaml"),
    ],
)
def test_invalid_pools_file(tmp_path: Path, text: str, error: str) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "pools.yml").write_text(text)
    with pytest.raises(InvalidInputError, match=error) as raised:
        resolve_settings(None, state_dir=state)
    assert str(state / "pools.yml") in str(raised.value)
