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
from bot.domain.telemetry import DELIVERIES_NORMALISED, UNRECORDED
from bot.ports import Store, TaskQueue, Telemetry, UnitOfWork
from bot.services.ingest_alerts import ingest_group
from bot.services.open_incidents import Candidate, Opened, fresh_deliveries, open_incidents
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
    taking more after `budget_s` (it holds the queue, and on SQLite the only writer).

    Fresh deliveries (new groups of new alerts, `open_incidents`) are written together, the
    others one at a time through `ingest_group`, so each sees everything before it.
    """
    started = time.monotonic()
    with store.transaction() as tx:
        tx.deliveries.lock()
        run = _Batch(tx, now, reopen_window)
        work: list[Candidate | tuple[PendingDelivery, Exception]] = []
        for delivery in tx.deliveries.pending(batch):
            if work and time.monotonic() - started > budget_s / 2:
                break  # what is read, not what is pending, is the batch
            work.append(_read(delivery))
        fresh = fresh_deliveries(tx, [c for c in work if isinstance(c, Candidate)])
        for item in work:
            if run.taken and time.monotonic() - started > budget_s:
                break
            if isinstance(item, Candidate) and item.delivery.id in fresh:
                run.defer(item)
            else:
                run.one(item)
        run.flush()
        tx.deliveries.mark_normalised(run.normalised, now)
    return Normalised(run.taken, len(run.failed), run.outbox_rows)


def _read(delivery: PendingDelivery) -> Candidate | tuple[PendingDelivery, Exception]:
    try:
        return Candidate(delivery, parse_delivery(json.loads(delivery.body)))
    except Exception as exc:  # noqa: BLE001  (set aside below, with why)
        return delivery, exc


class _Batch:
    """One batch's progress: fresh deliveries waiting to be opened together, and what is done."""

    def __init__(self, tx: UnitOfWork, now: datetime, reopen_window: timedelta) -> None:
        self._tx = tx
        self._now = now
        self._window = reopen_window
        self._fresh: list[Candidate] = []
        self.taken = 0
        self.normalised: list[int] = []
        self.failed: list[int] = []
        self.outbox_rows = 0

    def defer(self, candidate: Candidate) -> None:
        self.taken += 1
        self._fresh.append(candidate)

    def one(self, item: Candidate | tuple[PendingDelivery, Exception]) -> None:
        """Normalise one delivery after every fresh one before it, in its own savepoint."""
        self.flush()
        self.taken += 1
        self._ingest(item)

    def flush(self) -> None:
        fresh, self._fresh = self._fresh, []
        if not fresh:
            return
        try:
            with self._tx.savepoint():
                opened = open_incidents(self._tx, fresh)
        except Exception:
            log.exception("openings_not_written", deliveries=len(fresh))
            opened = Opened([], 0, fresh)
        self.normalised += opened.delivery_ids
        self.outbox_rows += opened.outbox_rows
        for candidate in opened.late:
            self._ingest(candidate)

    def _ingest(self, item: Candidate | tuple[PendingDelivery, Exception]) -> None:
        if not isinstance(item, Candidate):
            self._set_aside(*item)
            return
        delivery, parsed = item.delivery, item.parsed
        try:
            with self._tx.savepoint():
                result = ingest_group(
                    self._tx,
                    parsed.group,
                    delivery.digest,
                    delivery.received_at,
                    self._window,
                    parsed.rejected,
                )
        except Exception as exc:  # noqa: BLE001  (a lost database fails the next write too)
            self._set_aside(delivery, exc)
            return
        self.normalised.append(delivery.id)
        self.outbox_rows += len(result.outbox_ids)

    def _set_aside(self, delivery: PendingDelivery, exc: Exception) -> None:
        log.error("delivery_not_normalised", delivery=delivery.id, reason=str(exc))
        self.failed.append(delivery.id)
        self._tx.deliveries.mark_normalised([delivery.id], self._now, failure=str(exc)[:1000])


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
        *,
        telemetry: Telemetry = UNRECORDED,
    ) -> None:
        self._store = store
        self._tasks = tasks
        self._clock = clock
        self._window = reopen_window
        self._telemetry = telemetry
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
            self._count(result)
            if result.outbox_rows:
                relay_outbox(self._store, self._tasks)
            if not result.deliveries:
                return done

    def _count(self, result: Normalised) -> None:
        normalised = result.deliveries - result.failed
        if normalised:
            self._telemetry.count(DELIVERIES_NORMALISED, {"result": "normalised"}, normalised)
        if result.failed:
            self._telemetry.count(DELIVERIES_NORMALISED, {"result": "failed"}, result.failed)

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
