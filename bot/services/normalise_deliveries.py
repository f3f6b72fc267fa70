"""Normalise stored webhook deliveries into alerts, incidents, timeline and outbox rows.

The webhook only stores a delivery (one durable write); this turns pending deliveries into
incidents in batches, many per transaction, in the order they arrived, with the semantics of
`ingest_group` (grouping, reopen window, alert identity, truncation) applied as of each
delivery's arrival. A delivery is marked normalised in the transaction that normalised it, so
it is normalised once across crashes. A delivery that cannot be stored (a defect, never a
database outage) is marked with why, in a savepoint, and does not hold up the rest.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from bot.domain.alerts import parse_delivery
from bot.domain.deliveries import PendingDelivery
from bot.domain.errors import BrokerUnavailableError, StoreUnavailableError
from bot.ports import Store, TaskQueue, UnitOfWork
from bot.services.ingest_alerts import ingest_group
from bot.services.relay_outbox import relay_outbox

log = structlog.get_logger(__name__)
BATCH = 200
BATCH_BUDGET_S = 0.25
IDLE_POLL_S = 0.05
ERROR_PAUSE_S = 1.0


@dataclass(frozen=True)
class Normalised:
    """One batch: deliveries normalised, those set aside as failed, outbox rows queued."""

    deliveries: int = 0
    failed: int = 0
    outbox_rows: int = 0


def normalise_pending(
    store: Store,
    now: datetime,
    reopen_window: timedelta,
    batch: int = BATCH,
    budget_s: float = BATCH_BUDGET_S,
) -> Normalised:
    """Normalise up to `batch` pending deliveries, oldest first, in one transaction that stops
    taking more after `budget_s` (it holds the queue, and on SQLite the only writer)."""
    started = time.monotonic()
    done = failed = outbox_rows = 0
    with store.transaction() as tx:
        tx.deliveries.lock()
        for delivery in tx.deliveries.pending(batch):
            if done and time.monotonic() - started > budget_s:
                break
            done += 1
            try:
                with tx.savepoint():
                    outbox_rows += _normalise(tx, delivery, reopen_window)
            except Exception as exc:  # noqa: BLE001  (a lost database fails the next write too)
                failed += 1
                log.error("delivery_not_normalised", delivery=delivery.id, reason=str(exc))
                tx.deliveries.mark_normalised(delivery.id, now, failure=str(exc)[:1000])
                continue
            tx.deliveries.mark_normalised(delivery.id, now)
    return Normalised(done, failed, outbox_rows)


def _normalise(tx: UnitOfWork, delivery: PendingDelivery, reopen_window: timedelta) -> int:
    parsed = parse_delivery(json.loads(delivery.body))
    result = ingest_group(
        tx, parsed.group, delivery.digest, delivery.received_at, reopen_window, parsed.rejected
    )
    return len(result.outbox_ids)


class DeliveryNormaliser:
    """A thread that normalises deliveries as they arrive and relays what they queue.

    It polls for pending deliveries (every IDLE_POLL_S when idle) and drains them batch by
    batch; any number may run, one at a time holds the queue.
    """

    def __init__(
        self,
        store: Store,
        tasks: TaskQueue,
        clock: Callable[[], datetime],
        reopen_window: timedelta,
    ) -> None:
        self._store = store
        self._tasks = tasks
        self._clock = clock
        self._window = reopen_window
        self._stop = threading.Event()
        self.working = threading.Lock()
        """Held while draining: whoever takes it knows no transaction of this thread is open."""
        self._thread = threading.Thread(target=self._run, name="delivery-normaliser", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout=timeout_s)

    def drain(self) -> int:
        """Normalise everything pending now; answer how many deliveries were."""
        done = 0
        while True:
            result = normalise_pending(self._store, self._clock(), self._window)
            done += result.deliveries
            if result.outbox_rows:
                relay_outbox(self._store, self._tasks)
            if not result.deliveries:
                return done

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with self.working:
                    found = self.drain()
            except (StoreUnavailableError, BrokerUnavailableError) as exc:
                log.warning("normaliser_paused", reason=str(exc))
                self._stop.wait(ERROR_PAUSE_S)
                continue
            except Exception:  # the thread outlives a defect; log.exception records it
                log.exception("normaliser_failed")
                self._stop.wait(ERROR_PAUSE_S)
                continue
            if not found:
                self._stop.wait(IDLE_POLL_S)
