"""The one registry of task names: every name a service writes to the outbox, chat queues or beat
schedules, and the name each worker task registers under (`firebreak.<area>.<verb>`)."""

from __future__ import annotations

from enum import StrEnum


class TaskName(StrEnum):
    """A Celery task's registered name; a value is what travels through the outbox and broker."""

    PROCESS_INCIDENT = "firebreak.incidents.process"
    ACK_INCIDENT = "firebreak.incidents.ack"
    RESOLVE_INCIDENT = "firebreak.incidents.resolve"
    TRIAGE_INCIDENT = "firebreak.triage.incident"
    PLAN_RUNBOOKS = "firebreak.runbooks.plan"
    START_RUNBOOK = "firebreak.runbooks.start"
    TICK_RUN = "firebreak.runbooks.tick"
    APPROVE_RUN = "firebreak.runbooks.approve"
    DENY_RUN = "firebreak.runbooks.deny"
    PAUSE_RUNBOOKS = "firebreak.runbooks.pause"
    RESUME_RUNBOOKS = "firebreak.runbooks.resume"
    SWEEP_RUNS = "firebreak.runbooks.sweep"
    SUMMARISE_INCIDENT = "firebreak.summary.incident"
    UPLOAD_POSTMORTEM = "firebreak.postmortem.upload"
    RELAY_OUTBOX = "firebreak.outbox.relay"
    RECONCILE_ALERTS = "firebreak.alerts.reconcile"
    SYNC_SILENCES = "firebreak.silences.sync"
    PRUNE_RECORDS = "firebreak.retention.prune"
