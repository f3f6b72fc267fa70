"""Read models of incidents for the API, the CLI and chat commands."""

from __future__ import annotations

from typing import Any

from bot.domain.errors import NotFoundError
from bot.domain.incidents import Incident
from bot.ports import Store


def _iso(value: Any) -> str | None:
    return None if value is None else str(value.isoformat())


def incident_summary(incident: Incident) -> dict[str, Any]:
    """The fields a list shows, with MTTA / MTTM / MTTR derived from the transitions."""
    return {
        "id": incident.id,
        "ref": incident.ref,
        "title": incident.title,
        "severity": incident.severity.value,
        "status": incident.status.value,
        "receiver": incident.receiver,
        "labels": incident.labels,
        "triggered_at": _iso(incident.triggered_at),
        "acknowledged_at": _iso(incident.acknowledged_at),
        "acknowledged_by": incident.acknowledged_by,
        "mitigated_at": _iso(incident.mitigated_at),
        "resolved_at": _iso(incident.resolved_at),
        "resolved_by": incident.resolved_by,
        "reopened_count": incident.reopened_count,
        **incident.durations_s(),
    }


def incident_detail(store: Store, incident_id: int) -> dict[str, Any]:
    """One incident with its alerts, triage, audit trail and the silences known to cover it."""
    with store.transaction() as tx:
        incident = tx.incidents.get(incident_id)
        if incident is None:
            raise NotFoundError(f"INC-{incident_id} does not exist")
        alerts = tx.alerts.for_incident(incident_id)
        triage = tx.triages.get(incident_id)
        audit = tx.audit.for_incident(incident_id)
        chat = tx.chat_states.get(incident_id)
        silences = tx.silences.for_incident(incident_id)
    return {
        **incident_summary(incident),
        "group_key": incident.group_key,
        "alerts": alerts,
        "triage": triage,
        "audit": audit,
        "chat": {"channel": chat.ref.channel, "ts": chat.ref.ts} if chat.ref else None,
        "silences": [
            {
                "id": s.id,
                "matchers": [str(m) for m in s.matchers],
                "starts_at": s.starts_at.isoformat(),
                "ends_at": s.ends_at.isoformat(),
                "created_by": s.created_by,
                "comment": s.comment,
                "state": s.state.value,
                "origin": s.origin.value,
            }
            for s in silences
        ],
    }


def timeline_view(store: Store, incident_id: int) -> list[dict[str, Any]]:
    """The incident's timeline in time order."""
    with store.transaction() as tx:
        if tx.incidents.get(incident_id) is None:
            raise NotFoundError(f"INC-{incident_id} does not exist")
        events = tx.timeline.for_incident(incident_id)
    return [
        {
            "id": e.id,
            "at": e.at.isoformat(),
            "kind": e.kind.value,
            "message": e.message,
            "actor": e.actor,
            "data": e.data,
        }
        for e in events
    ]
