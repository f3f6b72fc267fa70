"""At most one pending triage per incident, and each queued triage takes effect at most once.

The incident's ledger holds one `triage:pending` record: `until` (when the pending triage is
presumed lost: a task that failed for good, a follow-up never scheduled; None when no triage is
pending), `again` (alerts arrived while it was pending) and `token` (the number the pending
triage's task carries; every triage queued gets the next one). Asking for a triage while one is
pending only sets `again`; the pending triage clears `again` when it starts reading and, when it
settles, queues one more if `again` was set meanwhile, so no alert goes unseen and a storm of
deliveries for one incident costs one triage at a time.

The broker delivers at least once (a task acked late whose acknowledgement is lost runs again),
so a triage stores its report only while its token is still the pending one, and settling moves
the token on in the same transaction: a redelivered triage that already took effect finds its
token spent and writes nothing. Every step holds the incident's row, so none interleave on one
incident.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.domain.task_names import TaskName
from bot.ports import UnitOfWork

PENDING_STEP = "triage:pending"
PENDING_TTL = timedelta(minutes=15)


def triage_task_args(incident_id: int, token: int, *, follow_up: bool = True) -> list[Any]:
    """The triage task's arguments: incident, whether a follow-up comes after it, its token."""
    return [incident_id, follow_up, token]


def queue_triage(tx: UnitOfWork, incident_id: int, now: datetime) -> int | None:
    """Queue a triage unless one is pending; answer the outbox row's id, or None."""
    held = _held(tx, incident_id)
    until = held.get("until")
    if until is not None and datetime.fromisoformat(until) > now:
        if not held.get("again"):
            tx.ledger.complete(incident_id, PENDING_STEP, {**held, "again": True})
        return None
    token = _hold(tx, incident_id, held, now + PENDING_TTL)
    return tx.outbox.add(TaskName.TRIAGE_INCIDENT, triage_task_args(incident_id, token))


def begin_triage(tx: UnitOfWork, incident_id: int, token: int | None) -> bool:
    """A triage starts reading the incident: what was asked for until now, it will see.

    False when `token` is spent (this triage already took effect, or another replaced it):
    the caller does nothing. A triage without a token (queued before tokens) always runs.
    """
    tx.incidents.get(incident_id, for_update=True)
    held = tx.ledger.result(incident_id, PENDING_STEP) or {}
    if not _is_pending(held, token):
        return False
    if held.get("again"):
        tx.ledger.complete(incident_id, PENDING_STEP, {**held, "again": False})
    return True


def settle_triage(
    tx: UnitOfWork,
    incident_id: int,
    now: datetime,
    follow_up_s: float = 0.0,
    token: int | None = None,
) -> bool:
    """A triage finished: schedule its follow-up, or queue the one asked for meanwhile, or free
    the slot; in every case its token is spent.

    False (and nothing changed) when `token` is spent already: a copy of this triage settled
    first, so the caller must not store its report either.
    """
    tx.incidents.get(incident_id, for_update=True)
    held = _held(tx, incident_id)
    if not _is_pending(held, token):
        return False
    if follow_up_s > 0:
        until = now + timedelta(seconds=follow_up_s) + PENDING_TTL
        following = _hold(tx, incident_id, held, until)
        args = triage_task_args(incident_id, following, follow_up=False)
        tx.outbox.add(TaskName.TRIAGE_INCIDENT, args, delay_s=follow_up_s)
    elif held.get("again"):
        again = _hold(tx, incident_id, held, now + PENDING_TTL)
        tx.outbox.add(TaskName.TRIAGE_INCIDENT, triage_task_args(incident_id, again))
    else:
        tx.ledger.complete(incident_id, PENDING_STEP, {**held, "until": None, "again": False})
    return True


def _is_pending(held: dict[str, Any], token: int | None) -> bool:
    if token is None:
        return True
    return held.get("until") is not None and held.get("token") == token


def _held(tx: UnitOfWork, incident_id: int) -> dict[str, Any]:
    """The pending record, claimed (and so writable) for this transaction."""
    tx.ledger.claim(incident_id, PENDING_STEP)
    return tx.ledger.result(incident_id, PENDING_STEP) or {}


def first_triage(incident_id: int, now: datetime) -> tuple[dict[str, Any], list[Any]]:
    """The pending record and task arguments of a new incident's first triage: what
    `queue_triage` writes for an incident that never had one."""
    token = 1
    return _pending(now + PENDING_TTL, token), triage_task_args(incident_id, token)


def _hold(tx: UnitOfWork, incident_id: int, held: dict[str, Any], until: datetime) -> int:
    """Hold the slot for a newly queued triage until `until`; answer that triage's token."""
    token = int(held.get("token") or 0) + 1
    tx.ledger.complete(incident_id, PENDING_STEP, _pending(until, token))
    return token


def _pending(until: datetime, token: int) -> dict[str, Any]:
    return {"until": until.isoformat(), "again": False, "token": token}
