"""Summary and postmortem tasks (llm queue)."""

from __future__ import annotations

from celery import Task, shared_task

from bot.domain.task_names import TaskName
from bot.domain.timeline import EventKind, TimelineEvent
from bot.services.export_postmortem import share_postmortem, write_postmortem
from bot.services.relay_outbox import relay_outbox
from bot.services.summarise_incident import summarise_incident
from workers.retrying import retry_on_unavailable
from workers.runtime import container


@shared_task(bind=True, name=TaskName.SUMMARISE_INCIDENT)
def incident(
    self: Task, incident_id: int, reason: str = "on demand", actor: str | None = None
) -> None:
    """Write a fresh summary onto the incident's timeline (LLM or offline): at a status
    change (the reason names it) or when someone asks for one."""
    c = container(self)
    with retry_on_unavailable(self):
        summarise_incident(
            c.store,
            c.summariser,
            incident_id,
            f"{reason}, requested by {actor}" if actor else reason,
            c.clock(),
            c.settings.llm_incident_token_budget,
            c.run_stories,
        )
        relay_outbox(c.store, c.tasks)


@shared_task(bind=True, name=TaskName.UPLOAD_POSTMORTEM)
def upload(self: Task, incident_id: int, actor: str = "firebreak") -> None:
    """Export the postmortem files (replacing earlier ones) and announce them on the timeline."""
    c = container(self)
    with retry_on_unavailable(self):
        paths = write_postmortem(
            c.store,
            incident_id,
            c.settings.postmortem_dir,
            prometheus_url=c.settings.prometheus_url,
            runs=c.run_stories,
        )
        share_postmortem(c.store, c.chat, incident_id, paths)
        with c.store.transaction() as tx:
            tx.timeline.append(
                TimelineEvent(
                    incident_id,
                    c.clock(),
                    EventKind.NOTE,
                    f"Postmortem exported by {actor}: " + ", ".join(p.name for p in paths),
                    {"paths": [str(p) for p in paths]},
                    actor=actor,
                )
            )
            tx.outbox.add(TaskName.PROCESS_INCIDENT, [incident_id])
        relay_outbox(c.store, c.tasks)
