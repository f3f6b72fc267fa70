"""Incidents and their lifecycle: triggered → acknowledged → mitigated → resolved."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.alerts import Severity


class IncidentStatus(StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"


_ALLOWED: dict[IncidentStatus, set[IncidentStatus]] = {
    IncidentStatus.TRIGGERED: {
        IncidentStatus.ACKNOWLEDGED,
        IncidentStatus.MITIGATED,
        IncidentStatus.RESOLVED,
    },
    IncidentStatus.ACKNOWLEDGED: {IncidentStatus.MITIGATED, IncidentStatus.RESOLVED},
    IncidentStatus.MITIGATED: {IncidentStatus.RESOLVED, IncidentStatus.TRIGGERED},
    IncidentStatus.RESOLVED: {IncidentStatus.TRIGGERED},
}

OPEN_STATUSES = (IncidentStatus.TRIGGERED, IncidentStatus.ACKNOWLEDGED, IncidentStatus.MITIGATED)
REOPEN_WINDOW = timedelta(minutes=30)


class InvalidTransitionError(ValueError):
    """A lifecycle move the state machine does not allow (e.g. resolved → acknowledged)."""


@dataclass
class Incident:
    """An incident seeded by one Alertmanager group; timestamps make MTTA/MTTM/MTTR derivable."""

    id: int
    receiver: str
    group_key: str
    title: str
    severity: Severity
    status: IncidentStatus
    triggered_at: datetime
    labels: dict[str, str] = field(default_factory=dict)
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    reopened_count: int = 0
    version: int = 0

    @property
    def ref(self) -> str:
        return f"INC-{self.id}"

    @property
    def is_open(self) -> bool:
        return self.status is not IncidentStatus.RESOLVED

    def can_move_to(self, target: IncidentStatus) -> bool:
        return target in _ALLOWED[self.status]

    def move_to(self, target: IncidentStatus, at: datetime, by: str | None = None) -> None:
        """Apply one lifecycle transition, stamping its time; re-entering triggered reopens."""
        if not self.can_move_to(target):
            raise InvalidTransitionError(f"{self.ref} is {self.status}; cannot move to {target}")
        if target is IncidentStatus.ACKNOWLEDGED:
            self.acknowledged_at, self.acknowledged_by = at, by
        elif target is IncidentStatus.MITIGATED:
            self.mitigated_at = at
        elif target is IncidentStatus.RESOLVED:
            self.resolved_at, self.resolved_by = at, by
            self.acknowledged_at = self.acknowledged_at or None
        elif target is IncidentStatus.TRIGGERED:
            self.reopened_count += 1
            self.mitigated_at = None
            self.resolved_at, self.resolved_by = None, None
        self.status = target
        self.version += 1

    def reopenable(self, at: datetime, window: timedelta = REOPEN_WINDOW) -> bool:
        """A resolved incident whose alerts fire again within the window is reopened."""
        return (
            self.status is IncidentStatus.RESOLVED
            and self.resolved_at is not None
            and at - self.resolved_at <= window
        )

    def durations_s(self) -> dict[str, float | None]:
        """Time to acknowledge, mitigate and resolve, derived from the transitions."""

        def since(t: datetime | None) -> float | None:
            return None if t is None else (t - self.triggered_at).total_seconds()

        return {
            "tta_s": since(self.acknowledged_at),
            "ttm_s": since(self.mitigated_at),
            "ttr_s": since(self.resolved_at),
        }


def parse_ref(text: str) -> int:
    """Read an incident id from `INC-12`, `inc-12` or `12`."""
    raw = text.strip().upper().removeprefix("INC-")
    if not raw.isdigit():
        raise ValueError(f"not an incident id: {text!r} (expected INC-<n>)")
    return int(raw)
