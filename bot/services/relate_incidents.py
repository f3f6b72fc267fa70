"""Relate an incident to the storm on its scope: one bounded record per scope and time window.

Each scope (see bot/domain/storms.py) has one row among the group rows
(`lock_group(STORM_RECEIVER, scope)`): creating-or-locking it serialises the incidents joining
that scope's storm, and it points at the current storm's lead incident. The storm's record lives
in the ledger under its lead (`RECORD_STEP`), and each incident's ledger says which storm it
joined (`MEMBER_STEP`), so joining happens once however often an incident is triaged.

Per incident a storm costs a constant amount: one note on the joining incident, and a note (with
a chat refresh) on the lead only when the storm reaches one of LEAD_NOTE_AT sizes. Between those
sizes the lead's chat message (which shows the storm's size) is refreshed at most once per
LEAD_REFRESH_S: the first member joining in a period queues one delayed refresh that reads the
size as it is by then.

Each member's ledger also records its `position` (the storm's size when it joined, the lead is
1): chat keeps members past the first few out of the channel (bot/services/notify_storm.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.domain.incidents import Incident
from bot.domain.storms import DEFAULT_WINDOW, LEAD_NOTE_AT, Storm, StormMember, storm_scope
from bot.domain.task_names import TaskName
from bot.domain.timeline import EventKind, TimelineEvent
from bot.ports import UnitOfWork

STORM_RECEIVER = "firebreak:storm"  # never an Alertmanager receiver: the key has a colon
MEMBER_STEP = "storm"
RECORD_STEP = "storm:record"
REFRESH_STEP = "storm:refresh"
LEAD_REFRESH_S = 10.0


def join_storm(
    tx: UnitOfWork,
    incident: Incident,
    alert_names: set[str],
    now: datetime,
    window: timedelta = DEFAULT_WINDOW,
) -> Storm | None:
    """The storm this incident belongs to, joining (or opening) its scope's storm the first time.

    None when the incident has no scope label, or triggered before the scope's current storm
    (and its window) began.
    """
    scope = storm_scope(incident.labels)
    if scope is None:
        return None
    if not tx.ledger.claim(incident.id, MEMBER_STEP):
        return storm_of(tx, incident.id)
    member = StormMember(incident.id, incident.title)
    at = incident.triggered_at
    lead_id = tx.groups.lock(STORM_RECEIVER, scope)
    storm = _record(tx, lead_id) if lead_id is not None else None
    if storm is not None and storm.accepts(at, window):
        storm = storm.joined(member, alert_names, at)
    elif storm is not None and storm.predates(at, window):
        tx.ledger.complete(incident.id, MEMBER_STEP, {})
        return None
    else:
        storm = Storm.open(scope, member, alert_names, at)
        tx.ledger.claim(incident.id, RECORD_STEP)
        tx.groups.point(STORM_RECEIVER, scope, incident.id)
    tx.ledger.complete(storm.lead_id, RECORD_STEP, storm.to_dict())
    tx.ledger.complete(incident.id, MEMBER_STEP, {"lead": storm.lead_id, "position": storm.size})
    if storm.size > 1:
        _note_joined(tx, incident, storm, now)
    return storm


def storm_of(tx: UnitOfWork, incident_id: int) -> Storm | None:
    """The storm an incident joined, as its record reads now; None when it joined none."""
    pointer = tx.ledger.result(incident_id, MEMBER_STEP) or {}
    lead_id = pointer.get("lead")
    return _record(tx, int(lead_id)) if lead_id is not None else None


def position_of(tx: UnitOfWork, incident_id: int) -> int | None:
    """Where an incident joined its storm (the lead is 1); None when it joined none (yet)."""
    pointer = tx.ledger.result(incident_id, MEMBER_STEP) or {}
    position = pointer.get("position")
    return int(position) if position is not None and pointer.get("lead") is not None else None


def _record(tx: UnitOfWork, lead_id: int) -> Storm | None:
    data = tx.ledger.result(lead_id, RECORD_STEP)
    return Storm.from_dict(data) if data else None


def _note_joined(tx: UnitOfWork, incident: Incident, storm: Storm, now: datetime) -> None:
    """One note on the joining incident; one on the lead at LEAD_NOTE_AT sizes only."""
    tx.timeline.append(
        TimelineEvent(
            incident.id,
            now,
            EventKind.NOTE,
            f"Part of a storm on {storm.scope}: {storm.size} incidents since "
            f"{storm.opened_at:%H:%M} UTC, led by INC-{storm.lead_id} — "
            f"{storm.describe(incident.id)}",
            {
                "storm_lead": storm.lead_id,
                "storm_size": storm.size,
                "related_incidents": [m.id for m in storm.others(incident.id)],
            },
            actor="triage",
        )
    )
    if storm.size in LEAD_NOTE_AT:
        tx.timeline.append(
            TimelineEvent(
                storm.lead_id,
                now,
                EventKind.NOTE,
                f"Storm on {storm.scope}: {storm.size} incidents now, latest {incident.ref} "
                f"({incident.title}) — {storm.describe(storm.lead_id)}",
                {"storm_lead": storm.lead_id, "storm_size": storm.size},
                actor="triage",
            )
        )
        tx.outbox.add(TaskName.PROCESS_INCIDENT, [storm.lead_id])
    else:
        period = int(now.timestamp() // LEAD_REFRESH_S)
        if tx.ledger.claim(storm.lead_id, f"{REFRESH_STEP}:{period}"):
            tx.ledger.complete(storm.lead_id, f"{REFRESH_STEP}:{period}")
            tx.outbox.add(TaskName.PROCESS_INCIDENT, [storm.lead_id], delay_s=LEAD_REFRESH_S)
