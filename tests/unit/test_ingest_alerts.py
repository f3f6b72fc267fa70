"""Ingestion rules on a real SQLite store: grouping, idempotency, reopening and resolution."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

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
        assert tx.firing.count(incident.id) == 2


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


def alert_states(store: SqlStore) -> dict[str, str]:
    with store.transaction() as tx:
        return {
            f"{a['fingerprint']}@{a['starts_at']}": a["status"]
            for i in tx.incidents.list()
            for a in tx.alerts.for_incident(i.id)
        }


S1, S2 = "2026-11-28T10:00:00Z", "2026-11-28T10:20:00Z"
FIRE_1 = ("a", alert(starts_at=S1))
RESOLVE_1 = ("b", alert(starts_at=S1, status="resolved", ends_at="2026-11-28T10:10:00Z"))
FIRE_2 = ("c", alert(starts_at=S2))
RESOLVE_2 = ("d", alert(starts_at=S2, status="resolved", ends_at="2026-11-28T10:30:00Z"))


@pytest.mark.parametrize(
    ("deliveries", "expected"),
    [
        ((FIRE_1, RESOLVE_1, FIRE_2), {S1: "resolved", S2: "firing"}),
        ((FIRE_1, RESOLVE_1, FIRE_2, RESOLVE_2), {S1: "resolved", S2: "resolved"}),
        ((FIRE_1, FIRE_2), {S1: "resolved", S2: "firing"}),
    ],
)
def test_alert_state_follows_the_newest_start_and_end_in_any_order(
    sqlite_url: str, deliveries: tuple[tuple[str, dict[str, Any]], ...], expected: dict[str, str]
) -> None:
    """Whatever order deliveries arrive in, a resolve is final for its start and a newer start
    supersedes older ones; an incident is open exactly when the newest start still fires."""
    for order in itertools.permutations(deliveries):
        url = f"{sqlite_url.removesuffix('.db')}-{'-'.join(k for k, _ in order)}.db"
        store = SqlStore.from_url(url)
        store.create_schema()
        for minute, (key, payload) in enumerate(order):
            deliver(store, group(payload, groupId=key), NOW + timedelta(minutes=minute))
        states = {k.split("@")[1].replace("+00:00", "Z"): v for k, v in alert_states(store).items()}
        assert states == expected, order
        open_incidents = [i for i in incidents(store) if i.is_open]
        assert len(open_incidents) == (1 if "firing" in expected.values() else 0), order
        store.dispose()


def test_same_alert_through_another_receiver_joins_its_incident(sqlite_store: SqlStore) -> None:
    """The same alert delivered through a second receiver joins the first receiver's incident
    instead of opening one that is resolved at once while the alert fires."""
    first = deliver(sqlite_store, group(alert(), receiver="team-a"))
    second = deliver(sqlite_store, group(alert(), receiver="team-b"))
    assert second.incident_id == first.incident_id
    [incident] = incidents(sqlite_store)
    assert incident.status is IncidentStatus.TRIGGERED
    resolved = alert(status="resolved", ends_at="2026-11-28T10:05:00Z")
    deliver(sqlite_store, group(resolved, receiver="team-b"), NOW + timedelta(minutes=5))
    assert incidents(sqlite_store)[0].status is IncidentStatus.RESOLVED


def test_zero_starts_at_is_unset(sqlite_store: SqlStore) -> None:
    """Alertmanager's zero time as startsAt is stored as unset, and the incident opens now."""
    result = deliver(sqlite_store, group(alert(starts_at="0001-01-01T00:00:00Z")))
    with sqlite_store.transaction() as tx:
        [stored] = tx.alerts.for_incident(result.incident_ids[0])
    assert stored["starts_at"] is None
    assert incidents(sqlite_store)[0].triggered_at == NOW
