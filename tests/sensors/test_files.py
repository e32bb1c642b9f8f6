"""The files sensor: starlake's pre-load strategies on a local folder and on a local moto S3 server."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest

if TYPE_CHECKING:
    from conftest import SensorProcess, SensorResult

DS = "2026-12-06"
# strategy -> (the file whose landing meets it, relative to the datasets root; extra arguments)
LANDINGS = {
    "imported": ("importing/sales/orders-0001.csv", ()),
    "pending": ("pending/sales/orders-0001.csv", ()),
    "ack": (f"pending/sales/{DS}.ack", ("--ds", DS)),
}
S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "s3-secret-never-printed",
                  "AWS_DEFAULT_REGION": "us-east-1"}


class Store:
    """A datasets root the test writes files into: a local folder or an S3 prefix."""

    def __init__(self, kind: str, tmp_path: Path, endpoint: str | None) -> None:
        self.kind = kind
        self.env: dict[str, str] = {}
        if kind == "local":
            self.root = str(tmp_path / "datasets")
            return
        self.env = {**S3_CREDENTIALS, "AWS_ENDPOINT_URL": str(endpoint)}
        self._s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing",
                                aws_secret_access_key="s3-secret-never-printed", region_name="us-east-1")
        self._s3.create_bucket(Bucket="lake")
        self.root = "s3://lake/datasets"

    def land(self, relative: str, body: bytes = b"o_orderkey,o_totalprice\n1,10.5\n") -> str:
        """Write a file under the root; its URL as the sensor reports it."""
        if self.kind == "local":
            path = Path(self.root) / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
            return str(path)
        self._s3.put_object(Bucket="lake", Key=f"datasets/{relative}", Body=body)
        return f"{self.root}/{relative}"


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    endpoint = request.getfixturevalue("s3_endpoint") if request.param == "s3" else None
    return Store(request.param, tmp_path, endpoint)


@pytest.mark.parametrize("strategy", sorted(LANDINGS))
def test_each_strategy_is_met_within_one_poke_of_the_file_landing(
        strategy: str, store: Store, start_sensor: Callable[..., SensorProcess]) -> None:
    relative, extra = LANDINGS[strategy]
    running = start_sensor("files", "--root", store.root, "--domain", "sales", "--strategy", strategy, *extra,
                           "--poke-interval", "0.3", "--timeout", "60", env=store.env)
    running.wait_for_pokes(3)  # several pokes see nothing
    landed_at = datetime.now(UTC).replace(tzinfo=None)  # log lines are UTC
    url = store.land(relative)
    result = running.result()

    assert result.returncode == 0, result.stderr
    assert result.outputs["ready"] is True and result.outputs["strategy"] == strategy
    if strategy == "ack":
        assert result.outputs["ack_file"] == url
    else:
        assert result.outputs["files"] == [url] and result.outputs["file_count"] == 1
    before = [poke for poke in result.pokes if poke.at < landed_at]
    after = [poke for poke in result.pokes if poke.at >= landed_at]
    assert before and not any(poke.met for poke in before)
    # met by the first poke that started after the file landed: at most one poke (already under
    # way when it landed) is logged "not met" after it
    assert after[-1].met and len(after) <= 2, [p.detail for p in after]
    assert "s3-secret-never-printed" not in result.stdout + result.stderr


@pytest.mark.parametrize("strategy", sorted(LANDINGS))
def test_each_strategy_times_out_after_timeout_when_nothing_lands(
        strategy: str, store: Store, sensor: Callable[..., SensorResult]) -> None:
    _, extra = LANDINGS[strategy]
    store.land("pending/other_domain/orders-0001.csv")  # another domain's file counts for nothing
    result = sensor("files", "--root", store.root, "--domain", "sales", "--strategy", strategy, *extra,
                    "--poke-interval", "0.4", "--timeout", "1.5", env=store.env)

    assert result.returncode == 1
    assert result.stdout == ""  # no outputs: nothing downstream may read "ready"
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert "files sensor timed out: not met by" in error and "1.5s after the first poke" in error
    assert len(result.pokes) >= 3 and not any(poke.met for poke in result.pokes)
    # the last poke happens at the deadline, not one interval before it
    assert result.pokes[-1].at >= _utc(result.pokes[-1].deadline)


def test_soft_fail_exits_0_with_ready_false(tmp_path: Path, sensor: Callable[..., SensorResult]) -> None:
    result = sensor("files", "--root", str(tmp_path), "--domain", "sales", "--strategy", "ack", "--ds", DS,
                    "--poke-interval", "0.2", "--timeout", "0.5", "--soft-fail")

    assert result.returncode == 0
    assert result.outputs["ready"] is False and result.outputs["pokes"] >= 2
    assert "--soft-fail: exiting 0 with ready=false" in result.stderr


def test_tables_count_only_their_own_files(tmp_path: Path, sensor: Callable[..., SensorResult]) -> None:
    pending = tmp_path / "pending" / "sales"
    pending.mkdir(parents=True)
    (pending / "customers-0001.csv").write_text("c\n1\n")
    (pending / ".orders-0002.csv.tmp").write_text("half written\n")  # hidden: a copy still in progress
    missing = sensor("files", "--root", str(tmp_path), "--domain", "sales", "--tables", "orders",
                     "--poke-interval", "0.2", "--timeout", "0.3")
    (pending / "orders-0001.parquet").write_bytes(b"PAR1")
    found = sensor("files", "--root", str(tmp_path), "--domain", "sales", "--tables", "orders,lineitem",
                   "--timeout", "5")

    assert missing.returncode == 1 and "no file in" in missing.stderr and "for tables orders" in missing.stderr
    assert found.returncode == 0 and found.outputs["files"] == [str(pending / "orders-0001.parquet")]


def test_none_is_met_at_once_without_looking(tmp_path: Path, sensor: Callable[..., SensorResult]) -> None:
    result = sensor("files", "--root", str(tmp_path / "nothing-here"), "--domain", "sales", "--strategy", "none")

    assert result.returncode == 0 and result.outputs["ready"] is True and len(result.pokes) == 1


def test_a_retried_sensor_ends_at_the_original_deadline(tmp_path: Path, start_sensor: Callable[..., SensorProcess],
                                                        sensor: Callable[..., SensorResult]) -> None:
    task_run = {"ORCHESTRA_PIPELINE_RUN_ID": "0b6f3c52-4a44-4c1e-9a57-2f7f3c0d9e11",
                "ORCHESTRA_TASK_RUN_ID": "5d0c8a8e-63c4-4a53-8f0e-0c5d1c1f7b22"}
    args = ("files", "--root", str(tmp_path), "--domain", "sales", "--poke-interval", "0.3", "--timeout", "4")
    first = start_sensor(*args, env=task_run)
    first.wait_for_pokes(3)
    killed = first.terminate()  # attempt 1 ends early (a crash, a timeout of the task)
    retried = sensor(*args, env=task_run)  # attempt 2: same pipeline run, same task run
    late = sensor(*args, env=task_run)  # attempt 3, after the window closed
    other_task = sensor(*args[:-1], "0.5", env={**task_run, "ORCHESTRA_TASK_RUN_ID": "another-task-run"})

    assert killed.returncode == 130 and killed.pokes
    (deadline,) = {poke.deadline for poke in killed.pokes}
    assert retried.returncode == 1 and {poke.deadline for poke in retried.pokes} == {deadline}
    assert f"keeping the deadline {deadline}" in retried.stderr
    # attempt 2 poked until the original deadline (second precision), not for a fresh 4 s window
    assert retried.pokes[-1].at <= _utc(deadline) + timedelta(seconds=1.5)
    assert late.returncode == 1 and late.pokes == [] and "the deadline had passed before this attempt" in late.stderr
    assert {poke.deadline for poke in other_task.pokes} != {deadline}


def _utc(text: str) -> datetime:
    """An output time (``2026-12-06T20:15:00Z``) as the naive UTC the log lines use."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")


def test_bad_arguments_exit_2(tmp_path: Path, sensor: Callable[..., SensorResult]) -> None:
    unknown = sensor("files", "--root", str(tmp_path), "--domain", "sales", "--strategy", "eventually")
    zero = sensor("files", "--root", str(tmp_path), "--domain", "sales", "--timeout", "0")
    nested = sensor("files", "--root", str(tmp_path), "--domain", "sales/2026")

    assert unknown.returncode == 2 and "invalid choice: 'eventually'" in unknown.stderr
    assert zero.returncode == 2 and "must be greater than 0" in zero.stderr
    assert nested.returncode == 2 and "give one folder name" in nested.stderr
