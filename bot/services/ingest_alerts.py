"""Ingest one Alertmanager delivery: alerts, incident, timeline and outbox in one transaction.

Alert identity is fingerprint + startsAt, whatever receiver delivered it, and an alert's state
follows its newest information in whatever order deliveries arrive:

- a resolve is final for its identity: a firing of the same identity delivered after it (a
  retry overtaken by the resolve, or another receiver's slower copy) changes nothing;
- a newer `startsAt` of a fingerprint supersedes older ones (Alertmanager holds one alert per
  fingerprint): older alerts still firing are resolved at the newer start, and an older alert
  delivered late is stored resolved at it;
- a delivery whose alerts all belong to another receiver's incident joins that incident instead
  of opening one of its own, so no incident is ever opened and resolved at once while its
  alert fires.

Deliveries sharing a fingerprint are serialised by the store (`lock_fingerprints`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.domain.alerts import Alert, AlertGroup, AlertStatus, RejectedAlert
from bot.domain.incidents import Incident, IncidentStatus
from bot.domain.task_names import TaskName
from bot.domain.timeline import EventKind, TimelineEvent
from bot.ports import Store, UnitOfWork
from bot.services.queue_triage import queue_triage


@dataclass(frozen=True)
class IngestResult:
    """What a delivery changed: nothing for a duplicate, else the incidents touched."""

    duplicate: bool
    incident_ids: tuple[int, ...] = ()
    outbox_ids: tuple[int, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)
    incident_id: int | None = None


@dataclass(frozen=True)
class _Survey:
    """Read before anything is written: which alerts fire, which are new, who owns the rest."""

    new_firing: list[Alert]
    firing: list[Alert]
    owners: list[int]


def ingest_alerts(
    store: Store,
    group: AlertGroup,
    digest: str,
    now: datetime,
    reopen_window: timedelta,
    rejected: Sequence[RejectedAlert] = (),
) -> IngestResult:
    """Store a delivery exactly once; a re-sent body (same digest) changes nothing.

    `rejected` are the delivery's alerts refused one by one: recorded, with why, on the
    incident the rest of the delivery landed in.
    """
    with store.transaction() as tx:
        if not tx.record_delivery(digest):
            return IngestResult(duplicate=True)
        return ingest_group(tx, group, digest, now, reopen_window, rejected)


def ingest_group(
    tx: UnitOfWork,
    group: AlertGroup,
    digest: str,
    now: datetime,
    reopen_window: timedelta,
    rejected: Sequence[RejectedAlert] = (),
) -> IngestResult:
    """Normalise one delivery inside the caller's transaction (which deduplicated it)."""
    tx.alert_index.lock_fingerprints(sorted({a.fingerprint_or_hash for a in group.alerts}))
    survey = _survey(tx, group.alerts)
    incident, moved = _incident_for(tx, group, survey, now, reopen_window)
    touched: dict[int, Incident] = {incident.id: incident}
    events: dict[int, int] = {incident.id: 1} if moved else {}
    counts: dict[str, int] = {}
    for alert in group.alerts:
        for owner_id, event in _apply(tx, incident.id, alert, now, counts):
            if owner_id not in touched:
                owner = tx.incidents.get(owner_id, for_update=True)
                if owner is None:
                    continue
                touched[owner_id] = owner
            tx.timeline.append(event)
            events[owner_id] = events.get(owner_id, 0) + 1
    if group.truncated_alerts:
        tx.timeline.append(truncated_event(incident.id, group.truncated_alerts, now))
    if rejected:
        tx.rejections.record(digest, incident.id, rejected, now)
        tx.timeline.append(_rejected_event(incident.id, rejected, now))
        events[incident.id] = events.get(incident.id, 0) + 1
    escalate = bool(counts.get("new_firing"))
    changed = [
        i for i in touched.values() if _settle(tx, i, group, now, escalate, events.get(i.id))
    ]
    outbox_ids = tuple(tx.outbox.add(TaskName.PROCESS_INCIDENT, [i.id]) for i in changed)
    if counts.get("new_firing"):
        queued = queue_triage(tx, incident.id, now)
        outbox_ids += (queued,) if queued is not None else ()
    return IngestResult(
        False, tuple(i.id for i in changed), outbox_ids, counts, incident_id=incident.id
    )


def _survey(tx: UnitOfWork, alerts: Sequence[Alert]) -> _Survey:
    new_firing: list[Alert] = []
    firing: list[Alert] = []
    owners: list[int] = []
    for alert in alerts:
        stored = tx.alerts.stored(alert.identity)
        if stored is not None:
            owners.append(stored.incident_id)
            if stored.status is AlertStatus.FIRING and alert.status is AlertStatus.FIRING:
                firing.append(alert)
        elif alert.status is AlertStatus.FIRING and not _superseded_at(tx, alert):
            new_firing.append(alert)
            firing.append(alert)
    return _Survey(new_firing, firing, owners)


def _superseded_at(tx: UnitOfWork, alert: Alert) -> datetime | None:
    """When a newer `startsAt` of the alert's fingerprint is known, that start."""
    if alert.starts_at is None:
        return None
    return tx.alert_index.newer_start(alert.fingerprint_or_hash, alert.starts_at)


def _apply(
    tx: UnitOfWork, incident_id: int, alert: Alert, now: datetime, counts: dict[str, int]
) -> list[tuple[int, TimelineEvent]]:
    """Store one alert; answer the timeline events it causes, each with its incident."""
    stored = tx.alerts.stored(alert.identity)
    if stored is not None:
        outcome = tx.alerts.update(stored, alert, now)
        counts[outcome] = counts.get(outcome, 0) + 1
        if outcome == "same":
            return []
        return [(stored.incident_id, alert_event(stored.incident_id, alert, now))]
    events: list[tuple[int, TimelineEvent]] = []
    newer = _superseded_at(tx, alert)
    if newer is not None and (alert.ends_at is None or alert.ends_at > newer):
        alert = alert.model_copy(update={"status": AlertStatus.RESOLVED, "ends_at": newer})
    elif newer is None and alert.starts_at is not None:
        for owner_id, identity in tx.alert_index.supersede(
            alert.fingerprint_or_hash, alert.starts_at, now
        ):
            events.append((owner_id, _superseded_event(owner_id, alert, identity)))
    tx.alerts.insert(incident_id, alert, now)
    outcome = f"new_{alert.status.value}"
    counts[outcome] = counts.get(outcome, 0) + 1
    events.append((incident_id, alert_event(incident_id, alert, now)))
    return events


def _incident_for(
    tx: UnitOfWork, group: AlertGroup, survey: _Survey, now: datetime, reopen_window: timedelta
) -> tuple[Incident, bool]:
    """The group's open incident, one to reopen, the incident already holding its alerts,
    or a new one; and whether it was opened or reopened here."""
    current_id = tx.groups.lock(group.receiver, group.group_key)
    current = tx.incidents.get(current_id, for_update=True) if current_id else None
    if current is not None and current.is_open:
        return current, False
    reopen = _reopen_candidate(tx, current, survey.firing, now, reopen_window)
    if reopen is not None:
        reopen.move_to(IncidentStatus.TRIGGERED, now, by="alertmanager")
        tx.timeline.append(
            TimelineEvent(
                reopen.id,
                now,
                EventKind.INCIDENT_REOPENED,
                f"{reopen.ref} reopened: its alerts fired again",
                {"reopened_count": reopen.reopened_count},
                actor="alertmanager",
            )
        )
        tx.groups.point(group.receiver, group.group_key, reopen.id)
        return reopen, True
    if not survey.new_firing:
        holder = _holder(tx, survey.owners)
        if holder is not None and holder.is_open:
            tx.groups.point(group.receiver, group.group_key, holder.id)
            return holder, False
        fallback = current or holder
        if fallback is not None:
            return fallback, False
    incident = tx.incidents.add(new_incident(group, now))
    tx.timeline.append(opened_event(incident, now))
    tx.audit.record("alertmanager", "incident_opened", incident.id, {"group_key": group.group_key})
    tx.groups.point(group.receiver, group.group_key, incident.id)
    return incident, True


def new_incident(group: AlertGroup, now: datetime) -> Incident:
    """The incident a group opens (its id is given when it is stored)."""
    return Incident(
        id=0,
        receiver=group.receiver,
        group_key=group.group_key,
        title=group.title,
        severity=group.severity,
        status=IncidentStatus.TRIGGERED,
        triggered_at=group.first_start or now,
        labels=dict(group.common_labels),
    )


def opened_event(incident: Incident, now: datetime) -> TimelineEvent:
    return TimelineEvent(
        incident.id,
        now,
        EventKind.INCIDENT_OPENED,
        f"{incident.ref} opened: {incident.title}",
        {"severity": incident.severity.value, "receiver": incident.receiver},
        actor="alertmanager",
    )


def _holder(tx: UnitOfWork, owners: Sequence[int]) -> Incident | None:
    """Of the incidents already holding a delivery's alerts, an open one, else the first."""
    first: Incident | None = None
    for owner_id in dict.fromkeys(owners):
        owner = tx.incidents.get(owner_id, for_update=True)
        if owner is not None and owner.is_open:
            return owner
        first = first or owner
    return first


def _reopen_candidate(
    tx: UnitOfWork,
    current: Incident | None,
    firing: list[Alert],
    now: datetime,
    reopen_window: timedelta,
) -> Incident | None:
    if not firing:
        return None
    if current is not None and current.reopenable(now, reopen_window):
        return current
    for alert in firing:
        same_episode = tx.alert_index.incident_of(alert.identity)
        candidate_id = same_episode or tx.alert_index.last_incident_of(alert.fingerprint_or_hash)
        candidate = tx.incidents.get(candidate_id, for_update=True) if candidate_id else None
        if candidate is not None and (same_episode or candidate.reopenable(now, reopen_window)):
            return candidate if not candidate.is_open else None
    return None


def alert_event(incident_id: int, alert: Alert, now: datetime) -> TimelineEvent:
    resolved = alert.status is AlertStatus.RESOLVED
    kind = EventKind.ALERT_RESOLVED if resolved else EventKind.ALERT_FIRING
    at = (alert.ends_at if resolved else alert.starts_at) or now
    return TimelineEvent(
        incident_id,
        at,
        kind,
        f"{alert.name} {'resolved' if resolved else 'firing'}",
        {"fingerprint": alert.fingerprint_or_hash, "labels": alert.labels},
        actor="alertmanager",
    )


def _superseded_event(incident_id: int, newer: Alert, identity: str) -> TimelineEvent:
    at = newer.starts_at
    assert at is not None  # only a set startsAt supersedes
    return TimelineEvent(
        incident_id,
        at,
        EventKind.ALERT_RESOLVED,
        f"{newer.name} resolved: Alertmanager sent it again with a later start",
        {"fingerprint": newer.fingerprint_or_hash, "superseded": identity},
        actor="alertmanager",
    )


def truncated_event(incident_id: int, truncated: int, now: datetime) -> TimelineEvent:
    return TimelineEvent(
        incident_id,
        now,
        EventKind.ALERTS_TRUNCATED,
        f"Alertmanager truncated {truncated} alerts from this group",
        {"truncated_alerts": truncated},
        actor="alertmanager",
    )


def _rejected_event(
    incident_id: int, rejected: Sequence[RejectedAlert], now: datetime
) -> TimelineEvent:
    return TimelineEvent(
        incident_id,
        now,
        EventKind.ALERTS_REJECTED,
        f"{len(rejected)} alert(s) of this delivery could not be stored and were set aside",
        {
            "rejected": [
                {
                    "position": r.position,
                    "fingerprint": r.fingerprint,
                    "errors": [{"field": f, "error": e} for f, e in r.errors],
                }
                for r in rejected
            ]
        },
        actor="alertmanager",
    )


def _settle(
    tx: UnitOfWork,
    incident: Incident,
    group: AlertGroup,
    now: datetime,
    escalate: bool,
    events: int | None,
) -> bool:
    """Escalate severity, resolve when nothing fires; save and answer whether anything changed."""
    before = incident.version
    if escalate and group.severity.rank > incident.severity.rank:
        incident.severity = group.severity
        incident.version += 1
    if incident.is_open and tx.firing.count(incident.id) == 0:
        incident.move_to(IncidentStatus.RESOLVED, now, by="alertmanager")
        tx.timeline.append(
            TimelineEvent(
                incident.id,
                now,
                EventKind.STATUS_CHANGED,
                f"{incident.ref} resolved: all its alerts resolved",
                {"status": incident.status.value},
                actor="alertmanager",
            )
        )
    changed = incident.version != before or bool(events)
    if changed:
        incident.version += 0 if incident.version != before else 1
        tx.incidents.save(incident)
    return changed
