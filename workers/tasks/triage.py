"""Triage task (triage queue): correlate an incident's metrics and rank its likely causes."""

from __future__ import annotations

from celery import Task, shared_task

from bot.domain.task_names import TaskName
from bot.services.relay_outbox import relay_outbox
from bot.services.triage_incident import TriageWindows, triage_incident
from workers.retrying import retry_on_unavailable
from workers.runtime import container


@shared_task(bind=True, name=TaskName.TRIAGE_INCIDENT)
def incident(
    self: Task, incident_id: int, follow_up: bool = True, token: int | None = None
) -> None:
    """Triage one incident; its report, timeline entry and follow-up tasks are stored together.

    An alert often fires before its cause has fully shown in the metrics, so a first triage is
    followed by a second one FIREBREAK_TRIAGE_FOLLOW_UP_S later (the runbook plan repeats too),
    an outbox row due then, written with the report. `token` makes a redelivery of a triage that
    already took effect a no-op (bot/services/queue_triage.py).
    """
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
            c.store,
            c.metrics,
            incident_id,
            c.clock(),
            settings.home / "charts",
            windows,
            catalogue=c.signals,
            follow_up_s=settings.triage_follow_up_s if follow_up else 0.0,
            token=token,
            telemetry=c.telemetry,
        )
        relay_outbox(c.store, c.tasks)
