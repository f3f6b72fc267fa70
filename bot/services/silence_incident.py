"""Silence an incident's alerts in Alertmanager, expire those silences, and keep the silences
an incident shows in step with Alertmanager.

`silence_incident` makes one Alertmanager silence whose matchers are the incident's labels (the
labels its group's alerts had in common), authored by whoever asked, its comment naming the
incident (and its API URL when known), then records it on the incident: the silences table, a
timeline note, the audit log, and a chat refresh. `unsilence_incident` expires the silences
Firebreak made for the incident and names the others that cover it (made in Alertmanager; they
are left to their authors). `sync_silences` (a beat task) reads every silence Alertmanager holds
and records on each open incident those whose matchers all match its labels, so silences made
in Alertmanager's own UI show too, and marks expired the ones that ended.

Without FIREBREAK_ALERTMANAGER_URL the SilenceManager refuses with NotConfiguredError; the
entry points answer its message as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import structlog

from bot.domain.errors import NotFoundError, RefusedError
from bot.domain.incidents import OPEN_STATUSES, Incident
from bot.domain.silences import (
    Silence,
    SilenceOrigin,
    SilenceState,
    matchers_for,
    silence_line,
)
from bot.domain.task_names import TaskName
from bot.domain.timeline import EventKind, TimelineEvent
from bot.ports import SilenceManager, Store, UnitOfWork

log = structlog.get_logger(__name__)
SYNC_BATCH = 1000  # open incidents compared with Alertmanager's silences per sync


@dataclass(frozen=True)
class Unsilenced:
    """What unsilencing did: the silences it expired, and those it left (not Firebreak's)."""

    expired: tuple[Silence, ...]
    left: tuple[Silence, ...]


def silence_incident(
    store: Store,
    silences: SilenceManager,
    incident_id: int,
    span: timedelta,
    actor: str,
    reason: str,
    now: datetime,
    link: str = "",
) -> Silence:
    """Silence the incident's alerts for `span`; answer the silence Alertmanager holds."""
    with store.transaction() as tx:
        incident = _incident(tx, incident_id)
    try:
        matchers = matchers_for(incident.labels)
    except ValueError as exc:
        raise RefusedError(f"Cannot silence {incident.ref}: {exc}") from None
    comment = f"{incident.ref} {incident.title}"
    if reason:
        comment += f": {reason}"
    if link:
        comment += f" — {link}"
    wanted = Silence("", matchers, now, now + span, actor, comment, origin=SilenceOrigin.FIREBREAK)
    silence = replace(wanted, id=silences.create(wanted))
    with store.transaction() as tx:
        tx.silences.save(incident_id, silence, now)
        until = silence_line([silence], now) or "Silenced"
        tx.timeline.append(
            TimelineEvent(
                incident_id,
                now,
                EventKind.NOTE,
                f"{until} in Alertmanager ({silence.id}, matchers {silence.describe()})"
                + (f": {reason}" if reason else ""),
                {"silence_id": silence.id, "ends_at": silence.ends_at.isoformat()},
                actor=actor,
            )
        )
        tx.audit.record(
            actor,
            "silenced",
            incident_id,
            {"silence_id": silence.id, "ends_at": silence.ends_at.isoformat(), "reason": reason},
        )
        tx.outbox.add(TaskName.PROCESS_INCIDENT, [incident_id])
    log.info("incident_silenced", incident_id=incident_id, silence_id=silence.id, actor=actor)
    return silence


def unsilence_incident(
    store: Store, silences: SilenceManager, incident_id: int, actor: str, now: datetime
) -> Unsilenced:
    """Expire every silence in force that Firebreak made for the incident."""
    with store.transaction() as tx:
        _incident(tx, incident_id)
        live = [s for s in tx.silences.for_incident(incident_id) if s.in_force(now)]
    ours = tuple(s for s in live if s.origin is SilenceOrigin.FIREBREAK)
    left = tuple(s for s in live if s.origin is not SilenceOrigin.FIREBREAK)
    for silence in ours:
        silences.expire(silence.id)
    if ours:
        with store.transaction() as tx:
            for silence in ours:
                tx.silences.expire(incident_id, silence.id, now)
            names = ", ".join(s.id for s in ours)
            tx.timeline.append(
                TimelineEvent(
                    incident_id,
                    now,
                    EventKind.NOTE,
                    f"Silence expired in Alertmanager by {actor}: {names}",
                    {"silence_ids": [s.id for s in ours]},
                    actor=actor,
                )
            )
            tx.audit.record(actor, "unsilenced", incident_id, {"silence_ids": [s.id for s in ours]})
            tx.outbox.add(TaskName.PROCESS_INCIDENT, [incident_id])
    return Unsilenced(ours, left)


def sync_silences(store: Store, silences: SilenceManager, now: datetime) -> list[int]:
    """Record on each open incident the silences covering it now; answer the incidents whose
    silences in force changed (each gets a chat refresh)."""
    held = [s for s in silences.silences() if s.state is not SilenceState.EXPIRED]
    changed: list[int] = []
    with store.transaction() as tx:
        for incident in tx.incidents.list(status=OPEN_STATUSES, limit=SYNC_BATCH):
            if _sync_one(tx, incident, held, now):
                changed.append(incident.id)
                tx.outbox.add(TaskName.PROCESS_INCIDENT, [incident.id])
    return changed


def _sync_one(tx: UnitOfWork, incident: Incident, held: list[Silence], now: datetime) -> bool:
    known = {s.id: s for s in tx.silences.for_incident(incident.id)}
    covering = {s.id: s for s in held if s.covers(incident.labels)}
    before = {i for i, s in known.items() if s.in_force(now)}
    for silence in covering.values():
        was = known.get(silence.id)
        origin = was.origin if was is not None else SilenceOrigin.ALERTMANAGER
        if was is None or (was.state, was.ends_at) != (silence.state, silence.ends_at):
            tx.silences.save(incident.id, replace(silence, origin=origin), now)
    for silence_id in before - set(covering):
        tx.silences.expire(incident.id, silence_id, now)
    after = {i for i, s in covering.items() if s.in_force(now)}
    if before == after:
        return False
    added = sorted(after - before)
    gone = sorted(before - after)
    parts = [f"now covered by {', '.join(added)}"] if added else []
    parts += [f"no longer by {', '.join(gone)}"] if gone else []
    tx.timeline.append(
        TimelineEvent(
            incident.id,
            now,
            EventKind.NOTE,
            f"Alertmanager silences changed: {'; '.join(parts)}",
            {"added": added, "gone": gone},
            actor="alertmanager",
        )
    )
    return True


def _incident(tx: UnitOfWork, incident_id: int) -> Incident:
    incident = tx.incidents.get(incident_id)
    if incident is None:
        raise NotFoundError(f"INC-{incident_id} does not exist")
    return incident
