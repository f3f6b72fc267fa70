"""Incident tasks: process a change (notify), and lifecycle moves asked for from chat."""

from __future__ import annotations

from celery import Task, shared_task

from bot.domain.incidents import IncidentStatus
from bot.domain.task_names import TaskName
from bot.services.change_status import change_status
from bot.services.process_incident import process_incident
from bot.services.relay_outbox import relay_outbox
from workers.retrying import retry_on_unavailable
from workers.runtime import container


@shared_task(bind=True, name=TaskName.PROCESS_INCIDENT)
def process(self: Task, incident_id: int) -> None:
    """An incident changed: bring its chat message up to date, summarise when it calls for it."""
    c = container(self)
    with retry_on_unavailable(self):
        process_incident(
            c.store,
            c.chat,
            c.tasks,
            incident_id,
            c.pacer,
            c.settings.slack_channel,
            c.runbook_line,
            c.settings.chat_claim_lease_s,
            now=c.clock(),
        )


@shared_task(bind=True, name=TaskName.ACK_INCIDENT)
def ack(self: Task, incident_id: int, actor: str) -> None:
    """A person acknowledged the incident in chat; its message says so at once."""
    _move(self, incident_id, IncidentStatus.ACKNOWLEDGED, actor)


@shared_task(bind=True, name=TaskName.RESOLVE_INCIDENT)
def resolve(self: Task, incident_id: int, actor: str) -> None:
    """A person resolved the incident in chat; its message says so at once."""
    _move(self, incident_id, IncidentStatus.RESOLVED, actor)


def _move(self: Task, incident_id: int, target: IncidentStatus, actor: str) -> None:
    c = container(self)
    with retry_on_unavailable(self):
        change_status(c.store, incident_id, target, actor, c.clock())
        relay_outbox(c.store, c.tasks)
