"""Run the real sensors CLI (``python -m sensors`` with ``sensors/`` as working directory) as a subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

SENSORS_DIR = Path(__file__).resolve().parents[2] / "sensors"
_POKE_LINE = re.compile(r"^(?P<at>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) sensors INFO poke (?P<n>\d+): (?P<met>met|not met); "
                        r"(?P<detail>.*) \(deadline (?P<deadline>\S+), ")


@dataclass
class PokeLine:
    """One logged poke (``at``: naive UTC, as the sensors log)."""

    at: datetime
    met: bool
    detail: str
    deadline: str


@dataclass
class SensorResult:
    """An ended sensor process."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def outputs(self) -> dict:
        """The JSON object on the last stdout line."""
        return json.loads(self.stdout.strip().splitlines()[-1])

    @property
    def pokes(self) -> list[PokeLine]:
        """The poke lines logged on stderr."""
        found = []
        for line in self.stderr.splitlines():
            match = _POKE_LINE.match(line)
            if match:
                found.append(PokeLine(datetime.strptime(match["at"], "%Y-%m-%d %H:%M:%S,%f"), match["met"] == "met",
                                      match["detail"], match["deadline"]))
        return found


class SensorProcess:
    """A sensor running in the background: ``.wait_for_pokes(n)`` while it runs, ``.result()`` at its end."""

    def __init__(self, args: tuple[str, ...], env: dict[str, str]) -> None:
        self._process = subprocess.Popen([sys.executable, "-m", "sensors", *args], cwd=SENSORS_DIR, env=env,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._stderr: list[str] = []
        self._stdout = ""
        self._readers = [threading.Thread(target=self._read_stderr, daemon=True),
                         threading.Thread(target=self._read_stdout, daemon=True)]
        for reader in self._readers:
            reader.start()

    def _read_stderr(self) -> None:
        assert self._process.stderr is not None
        for line in self._process.stderr:
            self._stderr.append(line)

    def _read_stdout(self) -> None:
        assert self._process.stdout is not None
        self._stdout = self._process.stdout.read()

    def wait_for_pokes(self, count: int, timeout: float = 60) -> None:
        """Block until the sensor has logged ``count`` pokes (fails if it ends or takes longer)."""
        deadline = time.monotonic() + timeout
        while sum(1 for line in list(self._stderr) if _POKE_LINE.match(line)) < count:
            assert self._process.poll() is None, "".join(self._stderr)
            assert time.monotonic() < deadline, f"fewer than {count} pokes in {timeout:g}s"
            time.sleep(0.05)

    def result(self, timeout: float = 60) -> SensorResult:
        """Wait for the process to end."""
        self._process.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=10)
        return SensorResult(self._process.returncode, self._stdout, "".join(self._stderr))

    def terminate(self) -> SensorResult:
        """SIGTERM it (what Orchestra does on a task timeout) and wait."""
        self._process.terminate()
        return self.result()


@pytest.fixture
def sensor_env(tmp_path: Path) -> dict[str, str]:
    """The environment sensors run with: the test's, state under tmp_path, no run ids."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ORCHESTRA_")}
    env["SENSORS_STATE_DIR"] = str(tmp_path / "sensor-state")
    return env


@pytest.fixture
def start_sensor(sensor_env: dict[str, str]) -> Iterator[Callable[..., SensorProcess]]:
    """``start_sensor(*args, env={...})`` starts ``python -m sensors *args`` in the background."""
    started: list[SensorProcess] = []

    def start(*args: str, env: dict[str, str] | None = None) -> SensorProcess:
        process = SensorProcess(args, {**sensor_env, **(env or {})})
        started.append(process)
        return process

    yield start
    for process in started:
        if process._process.poll() is None:
            process.terminate()


@pytest.fixture
def sensor(start_sensor: Callable[..., SensorProcess]) -> Callable[..., SensorResult]:
    """``sensor(*args, env={...})`` runs ``python -m sensors *args`` to its end."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> SensorResult:
        return start_sensor(*args, env=env).result(timeout)

    return run
