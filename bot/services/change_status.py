"""Move an incident through its lifecycle on a person's or a runbook's word."""

from __future__ import annotations

from datetime import datetime

from bot.domain.errors import NotFoundError
from bot.domain.incidents import Incident, IncidentStatus, InvalidTransitionError
from bot.domain.task_names import TaskName
from bot.domain.timeline import EventKind, TimelineEvent
from bot.ports import Store, UnitOfWork


def change_status(
    store: Store, incident_id: int, target: IncidentStatus, actor: str, now: datetime
) -> Incident:
    """Apply one transition, record it on the timeline and audit log, and queue a notification.

    Repeating a transition the incident already made (a double click) changes nothing.
    """
    with store.transaction() as tx:
        incident = tx.incidents.get(incident_id, for_update=True)
        if incident is None:
            raise NotFoundError(f"INC-{incident_id} does not exist")
        if incident.status is target:
            return incident
        if incident.can_move_to(target):
            incident.move_to(target, now, by=actor)
            _record_transition(tx, incident, actor, now)
            return incident
        refusal = f"{incident.ref} is {incident.status}; cannot move to {target}"
    with store.transaction() as tx:
        tx.audit.record(actor, "transition_refused", incident_id, {"to": target.value})
    raise InvalidTransitionError(refusal)


def _record_transition(tx: UnitOfWork, incident: Incident, actor: str, now: datetime) -> None:
    status = incident.status.value
    tx.incidents.save(incident)
    tx.timeline.append(
        TimelineEvent(
            incident.id,
            now,
            EventKind.STATUS_CHANGED,
            f"{incident.ref} {status} by {actor}",
            {"status": status},
            actor=actor,
        )
    )
    tx.audit.record(actor, f"incident_{status}", incident.id, {})
    tx.outbox.add(TaskName.PROCESS_INCIDENT, [incident.id])
