"""Notification tasks: refresh one incident's chat message."""

from __future__ import annotations

from celery import Task, shared_task

from bot.services.notify_incident import notify_incident
from workers.retrying import retry_on_unavailable
from workers.runtime import container


@shared_task(bind=True, name="firebreak.notify.incident")
def incident(self: Task, incident_id: int) -> None:
    """Post or edit the root message and thread what is new."""
    c = container(self)
    with retry_on_unavailable(self):
        notify_incident(
            c.store,
            c.chat,
            incident_id,
            c.pacer,
            c.settings.slack_channel,
            c.runbook_line,
            c.settings.chat_claim_lease_s,
            now=c.clock(),
        )
