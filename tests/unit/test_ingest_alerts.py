"""Ingestion rules on a real SQLite store: grouping, idempotency, reopening and resolution."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.adapters.sql_store import SqlStore
from bot.domain.alerts import AlertGroup, delivery_hash
from bot.domain.incidents import IncidentStatus
from bot.domain.timeline import EventKind
from bot.services.ingest_alerts import IngestResult, ingest_alerts
from tests.payloads import alert, body, group

NOW = datetime(2026, 11, 28, 10, 1, tzinfo=UTC)
WINDOW = timedelta(minutes=30)


def deliver(store: SqlStore, payload: dict[str, Any], now: datetime = NOW) -> IngestResult:
    raw = body(payload)
    return ingest_alerts(store, AlertGroup.model_validate(payload), delivery_hash(raw), now, WINDOW)


def incidents(store: SqlStore) -> list[Any]:
    with store.transaction() as tx:
        return tx.incidents.list()


def test_a_group_of_alerts_becomes_one_incident(sqlite_store: SqlStore) -> None:
    """Fifty alerts of one Alertmanager group open a single incident holding all fifty."""
    result = deliver(sqlite_store, group(*(alert(fingerprint=f"fp{i}") for i in range(50))))
    assert len(result.incident_ids) == 1
    with sqlite_store.transaction() as tx:
        assert len(tx.alerts.for_incident(result.incident_ids[0])) == 50
        assert [task for _, task, _ in tx.outbox.pending()] == [
            "firebreak.incidents.process",
            "firebreak.triage.incident",
        ]


def test_duplicate_delivery_changes_nothing(sqlite_store: SqlStore) -> None:
    """A byte-identical re-send is recognised and writes no row."""
    payload = group(alert())
    deliver(sqlite_store, payload)
    with sqlite_store.transaction() as tx:
        before = (tx.outbox.count_pending(), len(tx.timeline.for_incident(1)))
    assert deliver(sqlite_store, payload).duplicate
    with sqlite_store.transaction() as tx:
        assert (tx.outbox.count_pending(), len(tx.timeline.for_incident(1))) == before


def test_repeat_notification_of_same_alerts_adds_no_incident(sqlite_store: SqlStore) -> None:
    """repeat_interval re-sends a group with another body; the same alerts change nothing."""
    deliver(sqlite_store, group(alert()))
    result = deliver(sqlite_store, group(alert(), groupId="repeat"), NOW + timedelta(hours=4))
    assert not result.duplicate
    assert result.incident_ids == ()
    assert len(incidents(sqlite_store)) == 1


def test_new_alert_in_group_joins_the_open_incident(sqlite_store: SqlStore) -> None:
    """A second alert of the same group attaches to the open incident and escalates severity."""
    deliver(sqlite_store, group(alert(fingerprint="a", severity="warning")))
    deliver(sqlite_store, group(alert(fingerprint="a", severity="warning"), alert(fingerprint="b")))
    [incident] = incidents(sqlite_store)
    assert incident.severity.value == "critical"
    with sqlite_store.transaction() as tx:
        assert tx.alerts.firing_count(incident.id) == 2


def test_incident_resolves_when_all_alerts_resolve(sqlite_store: SqlStore) -> None:
    """Resolving one of two alerts keeps it open; resolving both resolves it, stamped."""
    deliver(sqlite_store, group(alert(fingerprint="a"), alert(fingerprint="b")))
    resolved_a = alert(fingerprint="a", status="resolved", ends_at="2026-11-28T10:04:00Z")
    deliver(sqlite_store, group(resolved_a, alert(fingerprint="b")), NOW + timedelta(minutes=3))
    assert incidents(sqlite_store)[0].status is IncidentStatus.TRIGGERED
    resolved_b = alert(fingerprint="b", status="resolved", ends_at="2026-11-28T10:06:00Z")
    deliver(sqlite_store, group(resolved_a, resolved_b), NOW + timedelta(minutes=5))
    [incident] = incidents(sqlite_store)
    assert incident.status is IncidentStatus.RESOLVED
    assert incident.resolved_at == NOW + timedelta(minutes=5)


def test_refire_within_window_reopens(sqlite_store: SqlStore) -> None:
    """An alert that fires again within 30 minutes of resolution reopens its incident."""
    deliver(sqlite_store, group(alert()))
    deliver(sqlite_store, group(alert(status="resolved", ends_at="2026-11-28T10:02:00Z")))
    again = alert(starts_at="2026-11-28T10:20:00Z")
    deliver(sqlite_store, group(again), NOW + timedelta(minutes=20))
    [incident] = incidents(sqlite_store)
    assert incident.status is IncidentStatus.TRIGGERED
    assert incident.reopened_count == 1
    with sqlite_store.transaction() as tx:
        kinds = [e.kind for e in tx.timeline.for_incident(incident.id)]
    assert EventKind.INCIDENT_REOPENED in kinds


def test_refire_after_window_opens_a_new_incident(sqlite_store: SqlStore) -> None:
    """After the reopen window the same group opens a fresh incident."""
    deliver(sqlite_store, group(alert()))
    deliver(sqlite_store, group(alert(status="resolved", ends_at="2026-11-28T10:02:00Z")))
    later = alert(starts_at="2026-11-28T12:00:00Z")
    deliver(sqlite_store, group(later), NOW + timedelta(hours=2))
    assert [i.status for i in incidents(sqlite_store)] == [
        IncidentStatus.TRIGGERED,
        IncidentStatus.RESOLVED,
    ]


def test_truncated_alerts_are_recorded_on_the_timeline(sqlite_store: SqlStore) -> None:
    """truncatedAlerts > 0 leaves a timeline event with the count, never a silent drop."""
    result = deliver(sqlite_store, group(alert(), truncated=12))
    with sqlite_store.transaction() as tx:
        events = tx.timeline.for_incident(result.incident_ids[0])
    truncated = [e for e in events if e.kind is EventKind.ALERTS_TRUNCATED]
    assert truncated
    assert truncated[0].data["truncated_alerts"] == 12


def test_other_receivers_group_key_is_another_incident(sqlite_store: SqlStore) -> None:
    """Incidents are seeded by (receiver, groupKey): the same key on two receivers is two."""
    deliver(sqlite_store, group(alert(), receiver="team-a"))
    deliver(sqlite_store, group(alert(fingerprint="other"), receiver="team-b"))
    assert len(incidents(sqlite_store)) == 2
