"""Runbook tasks (actions queue): plan after triage, start on request, approve or deny, tick a
run forward (re-enqueued until it finishes or waits on a human), pause and resume every
runbook, and the beat sweep that ticks runs owed one (approval timeouts, lost wake-ups)."""

from __future__ import annotations

import structlog
from celery import Task, shared_task

from bot.domain.errors import NotFoundError
from bot.domain.task_names import TaskName
from bot.runbook.errors import ApprovalRefusedError
from workers.deferral import run_later
from workers.retrying import retry_on_unavailable
from workers.runtime import container

log = structlog.get_logger(__name__)


@shared_task(bind=True, name=TaskName.PLAN_RUNBOOKS)
def plan(self: Task, incident_id: int) -> None:
    """Create runs for the runbooks that match an incident and its top hypothesis."""
    c = container(self)
    with retry_on_unavailable(self):
        c.remediation.plan_incident(incident_id)


@shared_task(bind=True, name=TaskName.START_RUNBOOK)
def start(self: Task, incident_id: int, runbook_name: str, actor: str) -> None:
    """A person asked for one runbook on one incident."""
    c = container(self)
    with retry_on_unavailable(self):
        c.remediation.start(incident_id, runbook_name, actor)


@shared_task(bind=True, name=TaskName.TICK_RUN)
def tick(self: Task, run_id: int) -> None:
    """Do what is due for a run now, then come back when its next step is due."""
    c = container(self)
    with retry_on_unavailable(self):
        outcome = c.remediation.tick(run_id, holder=self.request.id or f"tick-{run_id}")
        if outcome.next_in_s is not None:
            run_later(self, [run_id], outcome.next_in_s)


def _decide(self: Task, run_id: int, actor: str, approve: bool) -> None:
    c = container(self)
    with retry_on_unavailable(self):
        try:
            if approve:
                c.remediation.approve(run_id, actor)
            else:
                c.remediation.deny(run_id, actor)
        except (ApprovalRefusedError, NotFoundError) as exc:
            log.warning("runbook_decision_refused", run_id=run_id, actor=actor, reason=str(exc))


@shared_task(bind=True, name=TaskName.APPROVE_RUN)
def approve(self: Task, run_id: int, actor: str) -> None:
    _decide(self, run_id, actor, approve=True)


@shared_task(bind=True, name=TaskName.DENY_RUN)
def deny(self: Task, run_id: int, actor: str) -> None:
    _decide(self, run_id, actor, approve=False)


@shared_task(bind=True, name=TaskName.PAUSE_RUNBOOKS)
def pause(self: Task, actor: str) -> None:
    c = container(self)
    with retry_on_unavailable(self):
        c.remediation.pause(actor)


@shared_task(bind=True, name=TaskName.RESUME_RUNBOOKS)
def resume(self: Task, actor: str) -> None:
    c = container(self)
    with retry_on_unavailable(self):
        c.remediation.resume(actor)


@shared_task(bind=True, name=TaskName.SWEEP_RUNS)
def sweep(self: Task) -> list[int]:
    """Beat: tick runs past their approval deadline or whose wake-up was missed."""
    c = container(self)
    with retry_on_unavailable(self, max_retries=0):
        return c.remediation.sweep()
    return []
