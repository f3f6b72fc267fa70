"""Resolve alerts that Alertmanager no longer holds: a resolve notification can be lost."""

from __future__ import annotations

from datetime import datetime

from bot.domain.incidents import IncidentStatus
from bot.domain.task_names import TaskName
from bot.domain.timeline import EventKind, TimelineEvent
from bot.ports import AlertSource, Store


def reconcile_alerts(store: Store, source: AlertSource, now: datetime) -> list[int]:
    """Compare firing alerts with Alertmanager's active set; answer the incidents it resolved.

    If Alertmanager cannot be reached the source raises and nothing changes.
    """
    active = source.active_fingerprints()
    with store.transaction() as tx:
        stale = [(iid, ident, fp) for iid, ident, fp in tx.firing.open_alerts() if fp not in active]
        touched: set[int] = set()
        for incident_id, identity, fingerprint in stale:
            if tx.alerts.mark_resolved(identity, now):
                touched.add(incident_id)
                tx.timeline.append(
                    TimelineEvent(
                        incident_id,
                        now,
                        EventKind.RECONCILED,
                        "Alert no longer active in Alertmanager; marked resolved",
                        {"fingerprint": fingerprint},
                        actor="reconciler",
                    )
                )
        resolved: list[int] = []
        for incident_id in sorted(touched):
            incident = tx.incidents.get(incident_id, for_update=True)
            if incident is None or not incident.is_open or tx.firing.count(incident_id):
                continue
            incident.move_to(IncidentStatus.RESOLVED, now, by="reconciler")
            tx.incidents.save(incident)
            tx.timeline.append(
                TimelineEvent(
                    incident_id,
                    now,
                    EventKind.STATUS_CHANGED,
                    f"{incident.ref} resolved: Alertmanager holds none of its alerts",
                    {"status": "resolved"},
                    actor="reconciler",
                )
            )
            tx.audit.record("reconciler", "incident_resolved", incident_id, {})
            tx.outbox.add(TaskName.PROCESS_INCIDENT, [incident_id])
            resolved.append(incident_id)
        return resolved
