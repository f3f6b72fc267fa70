"""At most one pending triage per incident: queued or running, a triage is not queued again.

The incident's ledger holds one `triage:pending` record: `until` (when the pending triage is
presumed lost: a task that failed for good, a follow-up never scheduled) and `again` (alerts
arrived while it was pending). Asking for a triage while one is pending only sets `again`; the
pending triage clears `again` when it starts reading and, when it settles, queues one more if
`again` was set meanwhile, so no alert goes unseen and a storm of deliveries for one incident
costs one triage at a time. Every step holds the incident's row, so none interleave on one
incident.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.ports import UnitOfWork

TRIAGE_TASK = "firebreak.triage.incident"
PENDING_STEP = "triage:pending"
PENDING_TTL = timedelta(minutes=15)


def queue_triage(tx: UnitOfWork, incident_id: int, now: datetime) -> int | None:
    """Queue a triage unless one is pending; answer the outbox row's id, or None."""
    if not tx.ledger.claim(incident_id, PENDING_STEP):
        held = tx.ledger.result(incident_id, PENDING_STEP) or {}
        until = held.get("until")
        if until is not None and datetime.fromisoformat(until) > now:
            if not held.get("again"):
                tx.ledger.complete(incident_id, PENDING_STEP, {"until": until, "again": True})
            return None
    _hold(tx, incident_id, now + PENDING_TTL)
    return tx.outbox.add(TRIAGE_TASK, [incident_id])


def begin_triage(tx: UnitOfWork, incident_id: int) -> None:
    """A triage starts reading the incident: what was asked for until now, it will see."""
    tx.incidents.get(incident_id, for_update=True)
    held = tx.ledger.result(incident_id, PENDING_STEP) or {}
    if held.get("again"):
        tx.ledger.complete(incident_id, PENDING_STEP, {**held, "again": False})


def settle_triage(
    tx: UnitOfWork, incident_id: int, now: datetime, follow_up_s: float = 0.0
) -> int | None:
    """A triage finished: keep the slot for its follow-up, or queue the one asked for meanwhile,
    or free the slot. Answers the outbox row's id when one was queued."""
    tx.incidents.get(incident_id, for_update=True)
    held = tx.ledger.result(incident_id, PENDING_STEP) or {}
    if follow_up_s > 0:
        _hold(tx, incident_id, now + timedelta(seconds=follow_up_s) + PENDING_TTL)
        return None
    if held.get("again"):
        _hold(tx, incident_id, now + PENDING_TTL)
        return tx.outbox.add(TRIAGE_TASK, [incident_id])
    tx.ledger.claim(incident_id, PENDING_STEP)
    tx.ledger.complete(incident_id, PENDING_STEP, {"until": None, "again": False})
    return None


def _hold(tx: UnitOfWork, incident_id: int, until: datetime) -> None:
    tx.ledger.claim(incident_id, PENDING_STEP)
    tx.ledger.complete(incident_id, PENDING_STEP, {"until": until.isoformat(), "again": False})
