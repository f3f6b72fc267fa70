"""React to an incident change: refresh chat, and summarise once at mitigation and resolution."""

from __future__ import annotations

from datetime import datetime

from bot.domain.incidents import IncidentStatus
from bot.domain.task_names import TaskName
from bot.ports import ChannelPacer, ChatClient, Store, TaskQueue
from bot.services.notify_incident import CLAIM_LEASE_S, RunbookLine, notify_incident
from bot.services.relay_outbox import relay_outbox

_SUMMARISED = (IncidentStatus.MITIGATED, IncidentStatus.RESOLVED)


def process_incident(
    store: Store,
    chat: ChatClient,
    tasks: TaskQueue,
    incident_id: int,
    pacer: ChannelPacer | None = None,
    channel: str = "",
    runbook_line: RunbookLine | None = None,
    claim_lease_s: float = CLAIM_LEASE_S,
    *,
    now: datetime | None = None,
) -> None:
    """Bring the chat message up to date, then queue the summary this state calls for."""
    notify_incident(store, chat, incident_id, pacer, channel, runbook_line, claim_lease_s, now=now)
    outbox_id = schedule_summary(store, incident_id)
    if outbox_id is not None:
        relay_outbox(store, tasks, only=[outbox_id])


def schedule_summary(store: Store, incident_id: int) -> int | None:
    """Queue one summary per mitigation or resolution (per reopening); answer the outbox id."""
    with store.transaction() as tx:
        incident = tx.incidents.get(incident_id)
        if incident is None or incident.status not in _SUMMARISED:
            return None
        step = f"summary:{incident.status.value}:{incident.reopened_count}"
        if not tx.ledger.claim(incident_id, step):
            return None
        tx.ledger.complete(incident_id, step)
        return tx.outbox.add(TaskName.SUMMARISE_INCIDENT, [incident_id, incident.status.value])
