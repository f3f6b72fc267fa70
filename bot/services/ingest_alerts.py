"""Ingest one Alertmanager delivery: alerts, incident, timeline and outbox in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.domain.alerts import Alert, AlertGroup, AlertStatus
from bot.domain.incidents import Incident, IncidentStatus
from bot.domain.timeline import EventKind, TimelineEvent
from bot.ports import Store, UnitOfWork
from bot.services.queue_triage import queue_triage

PROCESS_TASK = "firebreak.incidents.process"


@dataclass(frozen=True)
class IngestResult:
    """What a delivery changed: nothing for a duplicate, else the incidents touched."""

    duplicate: bool
    incident_ids: tuple[int, ...] = ()
    outbox_ids: tuple[int, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)


def ingest_alerts(
    store: Store, group: AlertGroup, digest: str, now: datetime, reopen_window: timedelta
) -> IngestResult:
    """Store a delivery exactly once; a re-sent body (same digest) changes nothing."""
    with store.transaction() as tx:
        if not tx.record_delivery(digest):
            return IngestResult(duplicate=True)
        incident = _incident_for(tx, group, now, reopen_window)
        touched: dict[int, Incident] = {incident.id: incident}
        counts: dict[str, int] = {}
        for alert in group.alerts:
            owner_id = tx.alerts.incident_of(alert.identity) or incident.id
            outcome = tx.alerts.upsert(owner_id, alert, now)
            counts[outcome] = counts.get(outcome, 0) + 1
            if outcome != "same":
                owner = touched.get(owner_id) or tx.incidents.get(owner_id, for_update=True)
                if owner is not None:
                    touched[owner_id] = owner
                    tx.timeline.append(_alert_event(owner_id, alert, outcome, now))
        if group.truncated_alerts:
            tx.timeline.append(
                TimelineEvent(
                    incident.id,
                    now,
                    EventKind.ALERTS_TRUNCATED,
                    f"Alertmanager truncated {group.truncated_alerts} alerts from this group",
                    {"truncated_alerts": group.truncated_alerts},
                    actor="alertmanager",
                )
            )
        changed = [i for i in touched.values() if _settle(tx, i, group, now, counts)]
        outbox_ids = tuple(tx.outbox.add(PROCESS_TASK, [i.id]) for i in changed)
        if counts.get("new_firing") or counts.get("refired"):
            queued = queue_triage(tx, incident.id, now)
            outbox_ids += (queued,) if queued is not None else ()
        return IngestResult(False, tuple(i.id for i in changed), outbox_ids, counts)


def _incident_for(
    tx: UnitOfWork, group: AlertGroup, now: datetime, reopen_window: timedelta
) -> Incident:
    """The group's open incident, a recently resolved one to reopen, or a new one."""
    current_id = tx.incidents.lock_group(group.receiver, group.group_key)
    current = tx.incidents.get(current_id, for_update=True) if current_id else None
    if current is not None and current.is_open:
        return current
    firing = [a for a in group.alerts if a.status is AlertStatus.FIRING]
    reopen = _reopen_candidate(tx, current, firing, now, reopen_window)
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
        incident = reopen
    elif current is not None and not firing:
        return current
    else:
        incident = tx.incidents.add(
            Incident(
                id=0,
                receiver=group.receiver,
                group_key=group.group_key,
                title=group.title,
                severity=group.severity,
                status=IncidentStatus.TRIGGERED,
                triggered_at=min(a.starts_at for a in group.alerts),
                labels=dict(group.common_labels),
            )
        )
        tx.timeline.append(
            TimelineEvent(
                incident.id,
                now,
                EventKind.INCIDENT_OPENED,
                f"{incident.ref} opened: {incident.title}",
                {"severity": incident.severity.value, "receiver": group.receiver},
                actor="alertmanager",
            )
        )
        tx.audit.record(
            "alertmanager", "incident_opened", incident.id, {"group_key": group.group_key}
        )
    tx.incidents.point_group(group.receiver, group.group_key, incident.id)
    return incident


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
        same_episode = tx.alerts.incident_of(alert.identity)
        candidate_id = same_episode or tx.alerts.last_incident_of(alert.fingerprint_or_hash)
        candidate = tx.incidents.get(candidate_id, for_update=True) if candidate_id else None
        if candidate is not None and (same_episode or candidate.reopenable(now, reopen_window)):
            return candidate if not candidate.is_open else None
    return None


def _alert_event(incident_id: int, alert: Alert, outcome: str, now: datetime) -> TimelineEvent:
    resolved = alert.status is AlertStatus.RESOLVED
    kind = EventKind.ALERT_RESOLVED if resolved else EventKind.ALERT_FIRING
    verb = "resolved" if resolved else ("fired again" if outcome == "refired" else "firing")
    return TimelineEvent(
        incident_id,
        alert.ends_at
        if resolved and alert.ends_at
        else (now if outcome == "refired" else alert.starts_at),
        kind,
        f"{alert.name} {verb}",
        {"fingerprint": alert.fingerprint_or_hash, "labels": alert.labels},
        actor="alertmanager",
    )


def _settle(
    tx: UnitOfWork, incident: Incident, group: AlertGroup, now: datetime, counts: dict[str, int]
) -> bool:
    """Escalate severity, resolve when nothing fires; save and answer whether anything changed."""
    before = incident.version
    if group.severity.rank > incident.severity.rank and any(
        c in counts for c in ("new_firing", "refired")
    ):
        incident.severity = group.severity
        incident.version += 1
    if incident.is_open and tx.alerts.firing_count(incident.id) == 0:
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
    changed = incident.version != before or any(k != "same" for k in counts)
    if changed:
        incident.version += 0 if incident.version != before else 1
        tx.incidents.save(incident)
    return changed
