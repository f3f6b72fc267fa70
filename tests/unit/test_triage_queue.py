"""At most one pending triage per incident: deliveries while one is pending coalesce into one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from bot.adapters.sql_store import SqlStore
from bot.adapters.unconfigured_metrics import UnconfiguredMetricsSource
from bot.domain.signals import Series
from bot.services.queue_triage import PENDING_TTL, TRIAGE_TASK, queue_triage
from bot.services.triage_incident import triage_incident
from tests.unit.test_storms import START, ingest, node_group


def queued_triages(store: SqlStore) -> list[list[object]]:
    with store.transaction() as tx:
        rows = tx.outbox.pending()
        tx.outbox.mark_dispatched([row_id for row_id, _, _ in rows])
    return [args for _, task, args in rows if task == TRIAGE_TASK]


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
    incident_id: int,
    tmp_path: Path,
    follow_up_s: float = 0,
    arrive: Callable[[], object] | None = None,
) -> None:
    metrics = ArrivingMetrics(arrive)
    triage_incident(store, metrics, incident_id, START, tmp_path, follow_up_s=follow_up_s)


def test_new_alerts_while_a_triage_is_queued_queue_no_second_one(
    sqlite_store: SqlStore, tmp_path: Path
) -> None:
    """Five deliveries of new alerts into one incident queue one triage, which sees them all."""
    incident = ingest(sqlite_store, alerting(1, 0))
    assert queued_triages(sqlite_store) == [[incident]]
    for extra in range(1, 5):
        ingest(sqlite_store, alerting(1, extra))
    assert queued_triages(sqlite_store) == []
    run_triage(sqlite_store, incident, tmp_path)
    assert queued_triages(sqlite_store) == []
    ingest(sqlite_store, alerting(1, 5))
    assert queued_triages(sqlite_store) == [[incident]]


def test_alerts_arriving_during_a_triage_queue_exactly_one_more(
    sqlite_store: SqlStore, tmp_path: Path
) -> None:
    """Alerts stored while a triage is running are not lost: one more triage follows it."""
    incident = ingest(sqlite_store, alerting(4, 0))
    queued_triages(sqlite_store)

    def arrive() -> None:
        ingest(sqlite_store, alerting(4, 1))
        ingest(sqlite_store, alerting(4, 2))

    run_triage(sqlite_store, incident, tmp_path, arrive=arrive)
    assert queued_triages(sqlite_store) == [[incident]]
    run_triage(sqlite_store, incident, tmp_path)
    assert queued_triages(sqlite_store) == []


def test_a_follow_up_holds_the_slot(sqlite_store: SqlStore, tmp_path: Path) -> None:
    """While a follow-up triage is scheduled, new alerts wait for it instead of queueing."""
    incident = ingest(sqlite_store, alerting(2, 0))
    queued_triages(sqlite_store)
    run_triage(sqlite_store, incident, tmp_path, follow_up_s=120)
    ingest(sqlite_store, alerting(2, 1))
    assert queued_triages(sqlite_store) == []
    run_triage(sqlite_store, incident, tmp_path)
    assert queued_triages(sqlite_store) == []


def test_a_lost_triage_frees_the_slot_after_its_ttl(sqlite_store: SqlStore) -> None:
    """A pending triage that never settles (a task that failed for good) stops blocking."""
    incident = ingest(sqlite_store, alerting(3, 0))
    queued_triages(sqlite_store)
    with sqlite_store.transaction() as tx:
        assert queue_triage(tx, incident, START + PENDING_TTL - timedelta(seconds=1)) is None
        assert queue_triage(tx, incident, START + PENDING_TTL + timedelta(seconds=1)) is not None
