"""Timeline events: the append-only story of an incident."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class EventKind(StrEnum):
    INCIDENT_OPENED = "incident_opened"
    INCIDENT_REOPENED = "incident_reopened"
    ALERT_FIRING = "alert_firing"
    ALERT_RESOLVED = "alert_resolved"
    ALERTS_TRUNCATED = "alerts_truncated"
    ALERTS_REJECTED = "alerts_rejected"
    STATUS_CHANGED = "status_changed"
    RECONCILED = "reconciled"
    NOTIFIED = "notified"
    TRIAGED = "triaged"
    RUNBOOK = "runbook"
    SUMMARY = "summary"
    NOTE = "note"
    CHANGE = "change"


@dataclass(frozen=True)
class TimelineEvent:
    """One entry on an incident's timeline."""

    incident_id: int
    at: datetime
    kind: EventKind
    message: str
    data: dict[str, Any] = field(default_factory=dict)
    actor: str = "firebreak"
    id: int | None = None
