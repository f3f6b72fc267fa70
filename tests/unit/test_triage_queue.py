"""At most one pending triage per incident: deliveries while one is pending coalesce into one,
and a queued triage delivered twice takes effect once."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.adapters.sql_store import SqlStore
from bot.adapters.unconfigured_metrics import UnconfiguredMetricsSource
from bot.domain.signals import Series
from bot.domain.task_names import TaskName
from bot.domain.timeline import EventKind
from bot.services.queue_triage import PENDING_TTL, queue_triage
from bot.services.triage_incident import triage_incident
from tests.unit.test_storms import START, ingest, node_group


def queued_triages(store: SqlStore) -> list[list[Any]]:
    with store.transaction() as tx:
        rows = tx.outbox.pending()
        tx.outbox.mark_dispatched([row_id for row_id, _, _ in rows])
    return [args for _, task, args in rows if task == TaskName.TRIAGE_INCIDENT]


def alerting(index: int, extra: int) -> dict[str, object]:
    """The same group (one node) with `extra` more alerts firing in it."""
    payload = node_group(index)
    alerts = payload["alerts"]
    assert isinstance(alerts, list)
    for n in range(1, extra + 1):
        alerts.append({**alerts[0], "fingerprint": f"extra{n:04d}"})
    return payload


class ArrivingMetrics(UnconfiguredMetricsSource):
    """Prometheus down; and, on the first query, a delivery arrives (mid-triage)."""

    def __init__(self, arrive: Callable[[], object] | None = None) -> None:
        self._arrive = arrive

    def _first_query(self) -> None:
        arrive, self._arrive = self._arrive, None
        if arrive is not None:
            arrive()

    def query(self, promql: str, at: datetime | None = None) -> list[Series]:
        self._first_query()
        return super().query(promql, at)

    def query_range(
        self, promql: str, start: datetime, end: datetime, step_s: float
    ) -> list[Series]:
        self._first_query()
        return super().query_range(promql, start, end, step_s)


def run_triage(
    store: SqlStore,
    args: list[Any],
    tmp_path: Path,
    follow_up_s: float = 0,
    arrive: Callable[[], object] | None = None,
) -> bool:
    """Run the queued triage task `args` as the worker would; True when it took effect."""
    incident_id, follow_up, token = args
    metrics = ArrivingMetrics(arrive)
    report = triage_incident(
        store,
        metrics,
        incident_id,
        START,
        tmp_path,
        follow_up_s=follow_up_s if follow_up else 0.0,
        token=token,
    )
    return report is not None


def triaged_events(store: SqlStore, incident_id: int) -> int:
    with store.transaction() as tx:
        events = tx.timeline.for_incident(incident_id)
    return sum(1 for e in events if e.kind is EventKind.TRIAGED)


def due_triages(store: SqlStore, wait_s: float) -> list[list[Any]]:
    """The triages queued once `wait_s` (real seconds: outbox delays are wall-clock) passed."""
    time.sleep(wait_s)
    return queued_triages(store)


def test_new_alerts_while_a_triage_is_queued_queue_no_second_one(
    sqlite_store: SqlStore, tmp_path: Path
) -> None:
    """Five deliveries of new alerts into one incident queue one triage, which sees them all."""
    incident = ingest(sqlite_store, alerting(1, 0))
    [queued] = queued_triages(sqlite_store)
    assert queued[0] == incident
    for extra in range(1, 5):
        ingest(sqlite_store, alerting(1, extra))
    assert queued_triages(sqlite_store) == []
    assert run_triage(sqlite_store, queued, tmp_path)
    assert queued_triages(sqlite_store) == []
    ingest(sqlite_store, alerting(1, 5))
    assert [args[0] for args in queued_triages(sqlite_store)] == [incident]


def test_alerts_arriving_during_a_triage_queue_exactly_one_more(
    sqlite_store: SqlStore, tmp_path: Path
) -> None:
    """Alerts stored while a triage is running are not lost: one more triage follows it."""
    incident = ingest(sqlite_store, alerting(4, 0))
    [first] = queued_triages(sqlite_store)

    def arrive() -> None:
        ingest(sqlite_store, alerting(4, 1))
        ingest(sqlite_store, alerting(4, 2))

    assert run_triage(sqlite_store, first, tmp_path, arrive=arrive)
    [again] = queued_triages(sqlite_store)
    assert again[0] == incident
    assert run_triage(sqlite_store, again, tmp_path)
    assert queued_triages(sqlite_store) == []
    assert triaged_events(sqlite_store, incident) == 2


def test_a_follow_up_holds_the_slot(sqlite_store: SqlStore, tmp_path: Path) -> None:
    """While a follow-up triage is scheduled, new alerts wait for it instead of queueing."""
    incident = ingest(sqlite_store, alerting(2, 0))
    [first] = queued_triages(sqlite_store)
    assert run_triage(sqlite_store, first, tmp_path, follow_up_s=0.3)
    ingest(sqlite_store, alerting(2, 1))
    assert queued_triages(sqlite_store) == []
    [follow_up] = due_triages(sqlite_store, 0.4)
    assert follow_up[:2] == [incident, False]
    assert run_triage(sqlite_store, follow_up, tmp_path, follow_up_s=0.3)
    assert due_triages(sqlite_store, 0.4) == []
    assert triaged_events(sqlite_store, incident) == 2


def test_a_lost_triage_frees_the_slot_after_its_ttl(sqlite_store: SqlStore) -> None:
    """A pending triage that never settles (a task that failed for good) stops blocking."""
    incident = ingest(sqlite_store, alerting(3, 0))
    queued_triages(sqlite_store)
    with sqlite_store.transaction() as tx:
        assert queue_triage(tx, incident, START + PENDING_TTL - timedelta(seconds=1)) is None
        assert queue_triage(tx, incident, START + PENDING_TTL + timedelta(seconds=1)) is not None


def test_a_redelivered_triage_that_took_effect_writes_nothing(
    sqlite_store: SqlStore, tmp_path: Path
) -> None:
    """The broker hands a finished triage out again (its ack was lost): the copy is a no-op."""
    incident = ingest(sqlite_store, alerting(5, 0))
    [queued] = queued_triages(sqlite_store)
    assert run_triage(sqlite_store, queued, tmp_path)
    with sqlite_store.transaction() as tx:
        report = tx.triages.get(incident)
        outbox = tx.outbox.pending()
    assert not run_triage(sqlite_store, queued, tmp_path)
    assert triaged_events(sqlite_store, incident) == 1
    with sqlite_store.transaction() as tx:
        assert tx.triages.get(incident) == report
        assert tx.outbox.pending() == outbox


def test_a_copy_settling_second_writes_nothing(sqlite_store: SqlStore, tmp_path: Path) -> None:
    """Two copies of one triage run at once (a redelivery past the visibility timeout): the
    one that settles second stores no report, timeline entry or follow-up."""
    incident = ingest(sqlite_store, alerting(6, 0))
    [queued] = queued_triages(sqlite_store)
    outcomes: list[bool] = []

    def copy_runs_meanwhile() -> None:
        outcomes.append(run_triage(sqlite_store, queued, tmp_path, follow_up_s=0.3))

    outcomes.append(
        run_triage(sqlite_store, queued, tmp_path, follow_up_s=0.3, arrive=copy_runs_meanwhile)
    )
    assert outcomes == [True, False]
    assert triaged_events(sqlite_store, incident) == 1
    assert len(due_triages(sqlite_store, 0.4)) == 1


def test_a_redelivered_triage_leaves_its_follow_up_to_run(
    sqlite_store: SqlStore, tmp_path: Path
) -> None:
    """A copy of a first triage arriving after it scheduled its follow-up does nothing, and the
    follow-up still runs, once."""
    incident = ingest(sqlite_store, alerting(7, 0))
    [first] = queued_triages(sqlite_store)
    assert run_triage(sqlite_store, first, tmp_path, follow_up_s=0.3)
    assert not run_triage(sqlite_store, first, tmp_path, follow_up_s=0.3)
    [follow_up] = due_triages(sqlite_store, 0.4)
    assert run_triage(sqlite_store, follow_up, tmp_path, follow_up_s=0.3)
    assert not run_triage(sqlite_store, follow_up, tmp_path, follow_up_s=0.3)
    assert not run_triage(sqlite_store, first, tmp_path, follow_up_s=0.3)
    assert due_triages(sqlite_store, 0.4) == []
    assert triaged_events(sqlite_store, incident) == 2


def test_alerts_during_a_redelivered_triage_still_get_one(
    sqlite_store: SqlStore, tmp_path: Path
) -> None:
    """Alerts arriving while a spent copy runs are triaged: the copy leaves `again` to the
    triage that holds the slot, and the slot, once free, queues for them."""
    incident = ingest(sqlite_store, alerting(8, 0))
    [first] = queued_triages(sqlite_store)

    def arrive() -> None:
        ingest(sqlite_store, alerting(8, 1))

    assert run_triage(sqlite_store, first, tmp_path, arrive=arrive)
    [again] = queued_triages(sqlite_store)
    assert again[2] != first[2]
    assert not run_triage(sqlite_store, first, tmp_path)
    ingest(sqlite_store, alerting(8, 2))
    assert queued_triages(sqlite_store) == []
    assert run_triage(sqlite_store, again, tmp_path)
    assert queued_triages(sqlite_store) == []
    ingest(sqlite_store, alerting(8, 3))
    [last] = queued_triages(sqlite_store)
    assert run_triage(sqlite_store, last, tmp_path)
    assert triaged_events(sqlite_store, incident) == 3


def test_a_triage_replaced_after_its_ttl_is_a_no_op(sqlite_store: SqlStore, tmp_path: Path) -> None:
    """A triage presumed lost and replaced (past its TTL) that shows up after all does nothing;
    its replacement triages."""
    incident = ingest(sqlite_store, alerting(9, 0))
    [lost] = queued_triages(sqlite_store)
    with sqlite_store.transaction() as tx:
        assert queue_triage(tx, incident, START + PENDING_TTL + timedelta(seconds=1)) is not None
    [replacement] = queued_triages(sqlite_store)
    assert not run_triage(sqlite_store, lost, tmp_path)
    assert run_triage(sqlite_store, replacement, tmp_path)
    assert triaged_events(sqlite_store, incident) == 1
