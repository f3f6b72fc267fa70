"""Record a replay's incidents in the database, only when asked (`firebreak replay --into-db`).

Each rebuilt notification goes through the normal ingestion (bot/services/ingest_alerts.py) as
the webhook v4 body Alertmanager would have sent: the first notification at the moment it was
sent and, once every alert had stopped, the resolving one at that moment. The receiver is
`replay:<receiver>`, so a replayed group never joins a live one's incident (alerts keep their
usual identity, fingerprint + startsAt). In the transaction of each ingestion:

- the tasks it queued (chat, triage, runbooks) are marked dispatched: a replayed incident
  never reaches chat, a new triage or a runbook;
- the replay's own triage report becomes the incident's, marked `"replayed": true`;
- the timeline (a note) and the audit log (`incident_replayed`) say it was replayed.

Running the same replay twice records nothing new: the bodies are the same, and a duplicate
delivery changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import structlog

from bot.domain.alert_history import Notification, webhook_payload
from bot.domain.alerts import AlertGroup, delivery_hash
from bot.domain.timeline import EventKind, TimelineEvent
from bot.ports import Store, UnitOfWork
from bot.services.ingest_alerts import ingest_group
from bot.services.replay_history import IncidentReplay, ReplayReport

RECEIVER_PREFIX = "replay:"
ACTOR = "replay"
log = structlog.get_logger(__name__)


def record_replay(store: Store, report: ReplayReport, reopen_window: timedelta) -> ReplayReport:
    """Ingest every replayed incident; the report with each incident's id."""
    recorded = []
    for incident in report.incidents:
        recorded.append(replace(incident, incident_id=_record(store, incident, reopen_window)))
    log.info("replay_recorded", incidents=len(recorded))
    return replace(report, incidents=recorded)


def _record(store: Store, incident: IncidentReplay, reopen_window: timedelta) -> int | None:
    notification = incident.notification
    first = _delivery(notification, resolved=False)
    with store.transaction() as tx:
        incident_id = _ingest(tx, first, notification.notify_at, reopen_window)
        if incident_id is not None:
            _mark_replayed(tx, incident_id, incident)
    if notification.ended_at is not None:
        last = _delivery(notification, resolved=True)
        with store.transaction() as tx:
            _ingest(tx, last, notification.ended_at, reopen_window)
    return incident_id


def _delivery(notification: Notification, *, resolved: bool) -> dict[str, Any]:
    payload = webhook_payload(notification, resolved=resolved)
    payload["receiver"] = RECEIVER_PREFIX + notification.receiver
    return payload


def _ingest(
    tx: UnitOfWork, payload: dict[str, Any], at: datetime, reopen_window: timedelta
) -> int | None:
    """Ingest one delivery unless it was ingested before; its incident's id, if new."""
    digest = delivery_hash(json.dumps(payload, sort_keys=True).encode())
    if not tx.record_delivery(digest):
        return None
    result = ingest_group(tx, AlertGroup.model_validate(payload), digest, at, reopen_window)
    tx.outbox.mark_dispatched(list(result.outbox_ids))
    return result.incident_id


def _mark_replayed(tx: UnitOfWork, incident_id: int, incident: IncidentReplay) -> None:
    notification, report = incident.notification, incident.report
    verdict = incident.runbook
    tx.triages.save(incident_id, {**report.to_dict(), "replayed": True})
    tx.timeline.append(
        TimelineEvent(
            incident_id,
            notification.notify_at,
            EventKind.NOTE,
            f"Replayed from Prometheus's ALERTS history: {report.headline()}",
            {
                "replayed": True,
                "runbook": verdict.to_dict(),
                "recovery": incident.recovery.to_dict(),
            },
            actor=ACTOR,
        )
    )
    tx.audit.record(
        ACTOR,
        "incident_replayed",
        incident_id,
        {"group_key": notification.group_key, "receiver": notification.receiver},
    )
