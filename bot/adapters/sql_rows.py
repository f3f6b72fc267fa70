"""The row each domain object is stored as, shared by the one-at-a-time repositories and the
set-based writers, so both store exactly the same thing."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.domain.alerts import Alert
from bot.domain.incidents import Incident
from bot.domain.timeline import TimelineEvent


def utc_now() -> datetime:
    return datetime.now(UTC)


def alert_row(incident_id: int, alert: Alert, at: datetime) -> dict[str, Any]:
    """The `alerts` row of an alert stored on an incident at `at`."""
    return dict(
        identity=alert.identity,
        fingerprint=alert.fingerprint_or_hash,
        incident_id=incident_id,
        name=alert.name,
        status=alert.status.value,
        labels=alert.labels,
        annotations=alert.annotations,
        starts_at=alert.starts_at,
        ends_at=alert.ends_at,
        generator_url=alert.generator_url,
        updated_at=at,
    )


def event_row(event: TimelineEvent) -> dict[str, Any]:
    """The `timeline_events` row of an event."""
    return dict(
        incident_id=event.incident_id,
        at=event.at,
        kind=event.kind.value,
        message=event.message,
        data=event.data,
        actor=event.actor,
    )


def incident_row(incident: Incident) -> dict[str, Any]:
    """The `incidents` row of an incident (its chat and triage columns are kept apart)."""
    return {
        "receiver": incident.receiver,
        "group_key": incident.group_key,
        "title": incident.title,
        "severity": incident.severity.value,
        "status": incident.status.value,
        "labels": incident.labels,
        "triggered_at": incident.triggered_at,
        "acknowledged_at": incident.acknowledged_at,
        "acknowledged_by": incident.acknowledged_by,
        "mitigated_at": incident.mitigated_at,
        "resolved_at": incident.resolved_at,
        "resolved_by": incident.resolved_by,
        "reopened_count": incident.reopened_count,
        "version": incident.version,
    }


def group_hash(receiver: str, group_key: str) -> str:
    """The key of an Alertmanager group: its receiver and groupKey."""
    return hashlib.sha256(f"{receiver}\0{group_key}".encode()).hexdigest()


def outbox_row(task: str, args: list[Any], delay_s: float = 0.0) -> dict[str, Any]:
    """An `outbox` row; `created_at` is when it is due (now, or later for delayed work)."""
    due_at = utc_now() + timedelta(seconds=max(0.0, delay_s))
    return {"task": task, "args": args, "created_at": due_at}


def audit_row(
    actor: str, action: str, incident_id: int | None, detail: dict[str, Any]
) -> dict[str, Any]:
    """An `audit_log` row recorded now."""
    return dict(at=utc_now(), actor=actor, action=action, incident_id=incident_id, detail=detail)
