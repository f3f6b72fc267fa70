"""Triage task (triage queue): correlate an incident's metrics and rank its likely causes."""

from __future__ import annotations

from celery import Task, shared_task

from bot.services.relay_outbox import relay_outbox
from bot.services.triage_incident import TriageWindows, triage_incident
from workers.retrying import retry_on_unavailable
from workers.runtime import container


@shared_task(bind=True, name="firebreak.triage.incident")
def incident(self: Task, incident_id: int) -> None:
    """Triage one incident; its report, timeline entry and follow-up tasks are stored together."""
    c = container(self)
    with retry_on_unavailable(self):
        settings = c.settings
        windows = TriageWindows(
            settings.triage_baseline_s,
            settings.triage_lead_s,
            settings.triage_step_s,
            settings.triage_rate_window_s,
        )
        triage_incident(
            c.store, c.metrics, incident_id, c.clock(), settings.home / "charts", windows
        )
        relay_outbox(c.store, c.tasks)
