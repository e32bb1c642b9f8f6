"""Deliver due outbox rows: one attempt each, then DELIVERED, a later retry, or DEAD.

Retries wait with capped exponential backoff and jitter (tenacity's ``wait_exponential_jitter``:
``initial_backoff`` × 2^(attempt-1) seconds plus up to ``initial_backoff`` of jitter, at most :data:`MAX_BACKOFF`).
A permanent error (a 4xx answer, a missing connection) is DEAD at once; the last of
:data:`MAX_ATTEMPTS` attempts that fails is DEAD with its error. Errors are stored masked.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

import tenacity

from orchestra_local.alerts.senders import DeliveryError, RemoteOnly, send
from orchestra_local.store import RunStore, utcnow
from orchestra_local.store.alert_outbox import OPEN_STATES, claim_alert, due_alerts, list_alerts, settle_alert
from orchestra_local.workspace import Workspace

MAX_ATTEMPTS = 5
INITIAL_BACKOFF = 2.0
"""Seconds before the second attempt (doubling after each failure)."""
MAX_BACKOFF = 300.0
"""Longest wait between two attempts, in seconds."""
LEASE = timedelta(seconds=60)
"""How long a claimed row is left to its deliverer before another may take it over."""
PASS_SECONDS = 1.0

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attempt:
    """What one attempt did: the row, its new state, and the error (None when DELIVERED)."""

    alert_id: str
    state: str
    error: str | None


class Deliverer:
    """Sends due alerts of one metadata store.

    Args:
        store: The metadata store holding the outbox.
        workspace: Connections (destinations' credentials) and the masker.
        initial_backoff: Seconds before the second attempt (tests shorten it).
    """

    def __init__(self, store: RunStore, workspace: Workspace, *, initial_backoff: float = INITIAL_BACKOFF):
        self.store, self.workspace = store, workspace
        self._wait = tenacity.wait_exponential_jitter(multiplier=initial_backoff, max=MAX_BACKOFF,
                                                      jitter=initial_backoff)

    def _backoff(self, attempt: int) -> timedelta:
        state = tenacity.RetryCallState(retry_object=tenacity.Retrying(), fn=None, args=(), kwargs={})
        state.attempt_number = attempt
        return timedelta(seconds=self._wait(state))

    def deliver_due(self, now: datetime | None = None, pipeline_run_id: str | None = None) -> list[Attempt]:
        """One attempt for every due row (of ``pipeline_run_id``, or any) this deliverer can claim.

        Each row is claimed just before its send, its lease starting then: a slow pass never hands
        out a lease that has already run out.
        """
        attempts = []
        for row in due_alerts(self.store, now or utcnow(), pipeline_run_id=pipeline_run_id):
            if claim_alert(self.store, row, utcnow(), LEASE):
                attempts.append(self._attempt({**row, "attempts": row["attempts"] + 1}))
        return attempts

    def _attempt(self, row: dict) -> Attempt:
        try:
            send(row, self.workspace.connections)
        except RemoteOnly as exc:
            return self._settle(row, "REMOTE_ONLY", str(exc))
        except DeliveryError as exc:
            return self._failed(row, str(exc), permanent=exc.permanent)
        except (ValueError, TypeError, UnicodeError) as exc:  # a destination or connection field that cannot work
            return self._failed(row, f"{type(exc).__name__}: {exc}", permanent=True)
        except Exception as exc:  # noqa: BLE001 - any other failure is this attempt's, retried like a transient one
            return self._failed(row, f"{type(exc).__name__}: {exc}", permanent=False)
        return self._settle(row, "DELIVERED", None, delivered_at=utcnow())

    def _failed(self, row: dict, message: str, *, permanent: bool) -> Attempt:
        error = self.workspace.masker.mask(message)
        if permanent or row["attempts"] >= MAX_ATTEMPTS:
            log.warning("alert %r (%s) of run %s is DEAD after %d attempt(s): %s", row["alert_name"],
                        row["integration"], row["pipeline_run_id"], row["attempts"], error)
            return self._settle(row, "DEAD", error)
        return self._settle(row, "PENDING", error, next_attempt_at=utcnow() + self._backoff(row["attempts"]))

    def _settle(self, row: dict, state: str, error: str | None, **values: datetime) -> Attempt:
        if not settle_alert(self.store, row["id"], row["attempts"], state=state, error=error, **values):
            log.warning("alert %s: attempt %d outlived its lease; another deliverer owns the row now",
                        row["id"], row["attempts"])
        return Attempt(row["id"], state, error)

    def drain(self, timeout: float, pipeline_run_id: str | None = None) -> list[Attempt]:
        """Deliver until no alert (of ``pipeline_run_id``, or any) is still open, retries included, or
        ``timeout`` seconds pass: what ``orchestra-local run`` does before it exits."""
        deadline = utcnow() + timedelta(seconds=timeout)
        attempts = self.deliver_due(pipeline_run_id=pipeline_run_id)
        while list_alerts(self.store, pipeline_run_id, OPEN_STATES, limit=1) and utcnow() < deadline:
            threading.Event().wait(0.2)
            attempts += self.deliver_due(pipeline_run_id=pipeline_run_id)
        return attempts

    def run(self, stop: threading.Event) -> None:
        """Pass after pass (about one a second) until ``stop`` is set; a failing pass is logged, not fatal."""
        while not stop.is_set():
            try:
                self.deliver_due()
            except Exception:  # the loop must outlive a store hiccup; the traceback is logged whole
                log.exception("alert delivery pass failed; retrying in %.0f s", PASS_SECONDS)
            stop.wait(PASS_SECONDS)

    def start_thread(self) -> tuple[threading.Thread, threading.Event]:
        """Run :meth:`run` in a daemon thread; returns it and the event that stops it."""
        stop = threading.Event()
        thread = threading.Thread(target=self.run, args=(stop,), name="alert-delivery", daemon=True)
        thread.start()
        return thread, stop
